struct Tools;

#[outrigger::callbacks]
impl Tools {
    #[outrigger(skip, rename = "other")]
    async fn helper(&self) {}
}

fn main() {}
