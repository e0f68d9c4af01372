struct Tools;

#[outrigger::callbacks]
impl Tools {
    async fn by_value(self) {}

    async fn by_mut(&mut self) {}

    async fn typed(self: std::sync::Arc<Self>) {}

    async fn no_receiver(id: u64) -> u64 {
        id
    }
}

fn main() {}
