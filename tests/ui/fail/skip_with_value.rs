struct Tools;

#[outrigger::callbacks]
impl Tools {
    #[outrigger(skip = true)]
    fn helper(&self) {}
}

fn main() {}
