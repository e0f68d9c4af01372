struct Tools {
    name: String,
}

#[outrigger::callbacks]
impl Tools {
    async fn name(&self) -> &str {
        &self.name
    }
}

fn main() {}
