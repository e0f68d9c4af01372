struct Tools;

#[outrigger::callbacks]
impl Tools {
    async fn tuple(&self, (a, b): (u8, u8)) -> u8 {
        a + b
    }

    async fn wildcard(&self, _: u8) {}

    async fn by_ref(&self, ref name: String) -> usize {
        name.len()
    }
}

fn main() {}
