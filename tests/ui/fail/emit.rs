struct Tools;
struct Events;

#[outrigger::callbacks]
impl Tools {
    async fn emit(&self) {}

    #[outrigger(rename = "emit")]
    async fn send(&self) {}
}

#[outrigger::callbacks(namespace = "emit")]
impl Events {
    async fn send(&self) {}
}

fn main() {}
