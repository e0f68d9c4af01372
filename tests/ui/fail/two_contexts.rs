use outrigger::CallContext;

struct Tools;

#[outrigger::callbacks]
impl Tools {
    async fn get(&self, first: CallContext, id: u64, second: CallContext) -> u64 {
        let _ = (first, second);
        id
    }
}

fn main() {}
