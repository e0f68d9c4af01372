trait Lookup {
    async fn get(&self) -> u64;
}

struct Tools;

#[outrigger::callbacks]
impl Lookup for Tools {
    async fn get(&self) -> u64 {
        1
    }
}

fn main() {}
