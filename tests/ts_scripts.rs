//! TypeScript scripts: their types erased (not compiled), so every line and
//! column stays where the user wrote it. Each case runs through the pool
//! and, the reference way, through the TypeScript compiler and plain
//! Node.js; the two values must be the same.

mod common;

use std::path::PathBuf;

use outrigger::{Error, Script};
use serde_json::{json, Value};

/// TypeScript as people write it: one program per feature, each with a default export.
const CASES: &[(&str, &str)] = &[
    ("annotations", "const n: number = 2;\nlet s: string | undefined;\nconst list: Array<number> = [1, 2, 3];\nfunction add(a: number, b = 1): number { return a + b; }\nexport default [add(n), s ?? 'none', list.map((x): number => x * 2)];"),
    ("interfaces and aliases", "interface User { id: number; name?: string }\ntype Id = User['id'];\nexport interface Exported { x: 1 }\nexport type Pair<T> = [T, T];\nconst u: User = { id: 7 };\nconst id: Id = u.id;\nexport default { id, name: u.name ?? null };"),
    ("generics", "function first<T>(items: T[]): T | undefined { return items[0]; }\nclass Box<T extends object = {}> { constructor(value: T) { this.value = value; } value: T; map<U extends object>(f: (v: T) => U): Box<U> { return new Box<U>(f(this.value)); } }\nconst b = new Box({ a: 1 }).map<{ b: number }>((v) => ({ b: v.a + 1 }));\nexport default [first<number>([3, 4]), b.value];"),
    ("satisfies and as const", "const config = { mode: 'fast', retries: 3 } as const satisfies Record<string, string | number>;\nconst roles = ['admin', 'user'] as const;\ntype Role = (typeof roles)[number];\nconst r: Role = 'user';\nexport default { config, r, len: (roles as readonly string[]).length };"),
    ("assertions and non-null", "const maybe: string | null = 'x' as string | null;\nconst el = <const>['a'];\nconst len = maybe!.length;\nconst n = (1 as unknown) as number;\nlet late!: number;\nlate = 5;\nexport default [len, n, el, late];"),
    ("classes", "abstract class Shape {\n  abstract area(): number;\n  protected readonly kind: string = 'shape';\n  public describe(): string { return `${this.kind} of ${this.area()}`; }\n}\nclass Square extends Shape implements Iterable<number> {\n  private static count = 0;\n  declare extra: string;\n  #side: number;\n  override readonly kind = 'square';\n  constructor(side: number) { super(); this.#side = side; Square.count++; }\n  area(): number { return this.#side ** 2; }\n  *[Symbol.iterator](): Iterator<number> { yield this.#side; }\n  static made(): number { return Square.count; }\n  optional?(): void;\n}\nconst s = new Square(3);\nexport default [s.describe(), [...s], Square.made()];"),
    ("overloads and this", "function f(x: string): string;\nfunction f(x: number): number;\nfunction f(x: any): any { return x; }\nfunction g(this: { k: number }, add: number) { return this.k + add; }\nexport default [f('a'), f(1), g.call({ k: 1 }, 2)];"),
    ("type-only imports and exports", "import type { Foo } from './nowhere';\nimport { type Bar } from './nowhere-either';\nexport type { Foo, Bar };\nconst x: Foo | Bar | null = null;\nexport default x;"),
    ("declare", "declare const injected: number;\ndeclare function ext(x: number): void;\ndeclare module 'virtual' { export const v: number }\ndeclare global { interface Window { z: 1 } }\ndeclare enum Never { A }\nexport default typeof injected;"),
    ("functions and arrows", "const compose = <A, B, C>(f: (b: B) => C, g: (a: A) => B) => (a: A): C => f(g(a));\nconst inc = (x: number): number => x + 1;\nconst dbl = function (x: number): number { return x * 2; };\nasync function later<T>(v: T): Promise<T> { return v; }\nexport default [compose(inc, dbl)(5), await later<string>('ok')];"),
    ("optional and index", "interface Bag { [key: string]: number }\nconst bag: Bag = { a: 1 };\nfunction opt(a?: number, ...rest: number[]): number { return (a ?? 0) + rest.length; }\nconst { a }: { a: number } = bag as { a: number };\nexport default [opt(), opt(2, 3, 4), a];"),
];

fn reference(code: &str) -> Value {
    let dir = std::env::temp_dir().join(format!("outrigger-ts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("case-{}.ts", code.len()));
    std::fs::write(&file, code).unwrap();
    let runner = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/ts/run-tsc.mjs");
    let node = std::env::var_os("OUTRIGGER_TEST_NODE").unwrap_or_else(|| "node".into());
    let out = std::process::Command::new(node)
        .arg(runner)
        .arg(&file)
        .env_clear()
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn typescript_runs_as_the_typescript_compiler_would_have_it() {
    let pool = common::pool().await;
    for (name, code) in CASES {
        let expected = reference(code);
        let out = pool
            .run(Script::typescript(*code).name(format!("{name}.ts")))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(out.value, expected, "{name}");
    }
}

#[tokio::test]
async fn errors_point_into_the_typescript_as_written() {
    let pool = common::pool().await;
    let code = "interface Order { total: number }\nconst orders: Order[] = [];\n\nfunction check(o: Order): void {\n    if (o.total < 0) throw new RangeError(`bad total ${o.total}`);\n}\ncheck({ total: -1 } satisfies Order);\nexport default 1;";
    let error = pool.run(Script::typescript(code)).await.unwrap_err();
    match error {
        Error::Script {
            name,
            line,
            column,
            stack,
            script,
            ..
        } => {
            assert_eq!(name, "RangeError");
            assert_eq!(script, "module.ts");
            // QuickJS places a `throw new X()` at its end, V8 at the `new`,
            // JavaScriptCore (Bun) at the parenthesis of the call.
            let expected = if common::bun() {
                42
            } else {
                common::either(28, 56)
            };
            assert_eq!((line, column), (Some(5), Some(expected)));
            assert!(stack.unwrap().contains(&format!("module.ts:5:{expected}")));
        }
        other => panic!("expected a script error, got {other:?}"),
    }
    // What erasing cannot do is said where it is, before anything runs.
    let error = pool
        .run(Script::typescript(
            "const a = 1;\n  enum Color { Red, Green }\nexport default a;",
        ))
        .await
        .unwrap_err();
    match error {
        Error::Script {
            name,
            message,
            line,
            column,
            ..
        } => {
            assert_eq!(name, "SyntaxError");
            assert!(
                message.contains("enum") && message.contains("transform"),
                "{message}"
            );
            assert_eq!((line, column), (Some(2), Some(3)));
        }
        other => panic!("expected a script error, got {other:?}"),
    }
}

#[tokio::test]
async fn typescript_files_and_their_imports() {
    node_only!("imports of files (QuickJS imports registered modules only)");
    let dir = std::env::temp_dir().join(format!("outrigger-ts-files-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("lib")).unwrap();
    std::fs::write(
        dir.join("lib/util.ts"),
        "export interface Money { cents: number }\nexport function total(items: Money[]): number {\n  return items.reduce((s: number, m: Money) => s + m.cents, 0);\n}\nexport function fail(): never {\n  throw new Error('from util.ts');\n}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("job.ts"),
        "import { total, type Money } from './lib/util.ts';\nconst items: Money[] = [{ cents: 150 }, { cents: 250 }];\nexport default total(items);\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("app.mts"),
        "import { fail } from './lib/util.ts';\nexport function double(x: number): number { return x * 2; }\nexport function broken(): void { fail(); }\n",
    )
    .unwrap();
    let pool = common::builder()
        .sandbox(common::sandbox(
            outrigger::Sandbox::strict().allow_read(&dir),
        ))
        .build()
        .await
        .unwrap();
    let out = pool
        .run(Script::module_file(dir.join("job.ts")))
        .await
        .unwrap();
    assert_eq!(out.value, json!(400));
    let app = pool.load_module_file(dir.join("app.mts")).await.unwrap();
    let doubled: i64 = app.call("double", (21,)).await.unwrap();
    assert_eq!(doubled, 42);
    let error = app.call::<Value>("broken", ()).await.unwrap_err();
    match error {
        Error::Script { stack, .. } => {
            let stack = stack.unwrap();
            if common::bun() {
                eprintln!(
                    "not checked on Bun: the frame of an imported .ts file (docs/ENGINES.md)"
                );
            } else {
                assert!(stack.contains("lib/util.ts:6:9"), "{stack}");
            }
        }
        other => panic!("expected a script error, got {other:?}"),
    }
}

#[tokio::test]
async fn registered_typescript_modules() {
    let pool = common::builder()
        .module(
            "units.ts",
            "export const cents = (dollars: number): number => Math.round(dollars * 100);",
        )
        .build()
        .await
        .unwrap();
    let cents: i64 = pool
        .run(Script::typescript(
            "import { cents } from 'units.ts';\nexport default cents(1.25);",
        ))
        .await
        .unwrap()
        .value
        .as_i64()
        .unwrap();
    assert_eq!(cents, 125);
}
