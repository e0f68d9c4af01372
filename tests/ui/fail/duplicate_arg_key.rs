struct Tools;

#[outrigger::callbacks(namespace = "a", namespace = "b")]
impl Tools {
    #[outrigger(rename = "one")]
    #[outrigger(rename = "two")]
    async fn get(&self) {}
}

fn main() {}
