struct Tools;

#[outrigger::callbacks]
impl Tools {
    async fn value(&self) -> impl serde::Serialize {
        1
    }
}

fn main() {}
