struct Tools;

#[outrigger::callbacks]
impl Tools {
    async fn get_x(&self) {}

    #[outrigger(rename = "getX")]
    async fn other(&self) {}
}

fn main() {}
