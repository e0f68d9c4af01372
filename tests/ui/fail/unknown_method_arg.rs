struct Tools;

#[outrigger::callbacks]
impl Tools {
    #[outrigger(name = "other")]
    async fn get(&self) {}
}

fn main() {}
