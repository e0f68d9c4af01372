struct Tools;

#[outrigger::callbacks]
impl Tools {
    fn lookup_user(&self, id: u64) -> u64 {
        id
    }
}

fn main() {}
