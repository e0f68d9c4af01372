struct Tools;

#[outrigger::callbacks]
impl Tools {
    #[outrigger(rename = "1st")]
    async fn first(&self) {}

    #[outrigger(rename = "")]
    async fn empty(&self) {}

    #[outrigger(rename = "kv.get")]
    async fn dotted(&self) {}
}

fn main() {}
