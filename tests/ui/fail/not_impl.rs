#[outrigger::callbacks]
struct Tools;

fn main() {}
