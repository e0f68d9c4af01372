use outrigger::CallContext;

struct Tools;

#[outrigger::callbacks]
impl Tools {
    async fn get(&self, ctx: &CallContext) -> String {
        ctx.callback().to_owned()
    }
}

fn main() {}
