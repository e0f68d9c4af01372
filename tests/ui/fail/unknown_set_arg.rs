struct Tools;

#[outrigger::callbacks(prefix = "kv")]
impl Tools {
    async fn get(&self) {}
}

fn main() {}
