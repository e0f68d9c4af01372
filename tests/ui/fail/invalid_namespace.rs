struct Tools;

#[outrigger::callbacks(namespace = "key-value")]
impl Tools {
    async fn get(&self) {}
}

fn main() {}
