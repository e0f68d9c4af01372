struct Tools;

#[outrigger::callbacks]
impl Tools {
    async unsafe fn get(&self) {}
}

fn main() {}
