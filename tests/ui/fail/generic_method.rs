struct Tools;

#[outrigger::callbacks]
impl Tools {
    async fn by_type<T: Default>(&self) {}

    async fn by_lifetime<'a>(&'a self) {}

    async fn by_const<const N: usize>(&self) {}
}

fn main() {}
