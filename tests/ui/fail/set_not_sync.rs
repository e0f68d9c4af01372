use std::cell::Cell;

struct Tools {
    count: Cell<u64>,
}

#[outrigger::callbacks]
impl Tools {
    async fn count(&self) -> u64 {
        self.count.get()
    }
}

fn main() {}
