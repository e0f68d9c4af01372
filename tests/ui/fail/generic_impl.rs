struct Tools<T>(T);

#[outrigger::callbacks]
impl<T: Send + Sync + 'static> Tools<T> {
    async fn get(&self) {}
}

fn main() {}
