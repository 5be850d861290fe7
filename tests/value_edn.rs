//! EDN printing, reading and the serde bridge of `konserve_s3::value`.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use konserve_s3::value::{
    EdnErrorKind, Keyword, MAX_DEPTH, Map, Symbol, Value, ValueError, from_value, to_value,
};
use serde::{Deserialize, Serialize};

fn parse(s: &str) -> Value {
    s.parse()
        .unwrap_or_else(|e| panic!("cannot parse {s:?}: {e}"))
}

fn err(s: &str) -> EdnErrorKind {
    match s.parse::<Value>() {
        Ok(v) => panic!("{s:?} parsed as {v}"),
        Err(e) => e.kind().clone(),
    }
}

fn round_trip(v: &Value) {
    let printed = v.to_string();
    let back = parse(&printed);
    assert_eq!(&back, v, "{printed}");
}

#[test]
fn prints_like_clojure() {
    let cases: Vec<(Value, &str)> = vec![
        (Value::Nil, "nil"),
        (Value::Bool(true), "true"),
        (Value::Bool(false), "false"),
        (Value::Int(42), "42"),
        (Value::Int(-7), "-7"),
        (Value::Int(9_007_199_254_740_993), "9007199254740993"),
        (Value::from(u64::MAX), "18446744073709551615N"),
        (Value::Float(3.25), "3.25"),
        (Value::Float(1.0), "1.0"),
        (Value::Float(1e10), "1.0E10"),
        (Value::Float(-1.5e-7), "-1.5E-7"),
        (Value::Float(f64::NAN), "##NaN"),
        (Value::Float(f64::INFINITY), "##Inf"),
        (Value::Float(f64::NEG_INFINITY), "##-Inf"),
        (Value::from("a\"b\n"), r#""a\"b\n""#),
        (
            Value::from("tab\there\\ \u{8}\u{c}\r"),
            r#""tab\there\\ \b\f\r""#,
        ),
        (Value::from("héllo ✓ 日本"), "\"héllo ✓ 日本\""),
        (Value::Char('a'), r"\a"),
        (Value::Char('\n'), r"\newline"),
        (Value::Char(' '), r"\space"),
        (Value::Char('\t'), r"\tab"),
        (Value::Char('é'), r"\é"),
        (Value::keyword("kw"), ":kw"),
        (Value::keyword_ns("ns", "kw"), ":ns/kw"),
        (Value::symbol("sym"), "sym"),
        (
            Value::Symbol(Symbol::ns("clojure.core", "/")),
            "clojure.core//",
        ),
        (
            Value::Uuid("11111111-2222-3333-4444-555555555555".parse().unwrap()),
            r#"#uuid "11111111-2222-3333-4444-555555555555""#,
        ),
        (
            Value::Inst(1_704_164_645_678),
            r#"#inst "2024-01-02T03:04:05.678-00:00""#,
        ),
        (Value::Inst(0), r#"#inst "1970-01-01T00:00:00.000-00:00""#),
        (Value::Bytes(vec![0, 1, 2, 255]), r#"#bytes "AAEC/w==""#),
        (Value::vector([1, 2]), "[1 2]"),
        (Value::list([1, 2]), "(1 2)"),
        (Value::Vector(vec![]), "[]"),
        (Value::List(vec![]), "()"),
        (
            Value::map([(Value::keyword("a"), 1), (Value::keyword("b"), 2)]),
            "{:a 1, :b 2}",
        ),
        (Value::Map(Map::new()), "{}"),
        (Value::set([1, 3, 2]), "#{1 2 3}"),
        (
            Value::Tagged(Symbol::ns("my", "tag"), Box::new(Value::vector([1]))),
            "#my/tag [1]",
        ),
    ];
    for (v, want) in cases {
        assert_eq!(v.to_string(), want);
        round_trip(&v);
    }
}

#[test]
fn reads_edn() {
    assert_eq!(
        parse("  {:a 1, :b {:c [1 2]}} ; trailing comment"),
        Value::map([
            (Value::keyword("a"), Value::Int(1)),
            (
                Value::keyword("b"),
                Value::map([(Value::keyword("c"), Value::vector([1, 2]))])
            ),
        ])
    );
    assert_eq!(parse("[1,2,,3]"), Value::vector([1, 2, 3]));
    assert_eq!(parse("[1 #_2 #_ [3 4] 5]"), Value::vector([1, 5]));
    assert_eq!(parse("#_ 1 2"), Value::Int(2));
    assert_eq!(parse(r#""\u00e9\u65e5""#), Value::from("é日"));
    assert_eq!(
        parse("123456789012345678901234567890N").to_string(),
        "123456789012345678901234567890N"
    );
    assert_eq!(parse("42N"), Value::Int(42));
    assert_eq!(parse("nil"), Value::Nil);
    assert_eq!(parse("[true false]"), Value::vector([true, false]));
    assert_eq!(parse(":ns/kw"), Value::keyword_ns("ns", "kw"));
    assert_eq!(
        parse("my.ns/sym"),
        Value::Symbol(Symbol::ns("my.ns", "sym"))
    );
    assert_eq!(
        parse(r#"#inst "2024-01-02T04:04:05.678+01:00""#),
        parse(r#"#inst "2024-01-02T03:04:05.678-00:00""#)
    );
    assert_eq!(
        parse(r#"#inst "2024-01-02T03:04:05Z""#),
        Value::Inst(1_704_164_645_000)
    );
    assert_eq!(parse(r#"#inst "2024""#), Value::Inst(1_704_067_200_000));
    assert_eq!(
        parse(r#"#uuid "11111111-2222-3333-4444-555555555555""#).as_uuid(),
        Some("11111111-2222-3333-4444-555555555555".parse().unwrap())
    );
    assert_eq!(
        parse("#foo/bar {:x 1}"),
        Value::Tagged(
            Symbol::ns("foo", "bar"),
            Box::new(Value::map([(Value::keyword("x"), 1)]))
        )
    );
    assert_eq!(
        parse("#{:a :b}"),
        Value::set([Value::keyword("b"), Value::keyword("a")])
    );
    assert_eq!(
        parse("(1 (2))"),
        Value::list([Value::Int(1), Value::list([2])])
    );
    assert_ne!(parse("(1 2)"), parse("[1 2]"));
}

#[test]
fn malformed_input_gives_typed_errors() {
    assert_eq!(err(r#""unterminated"#), EdnErrorKind::UnterminatedString);
    assert_eq!(err(r#"["a" "b"#), EdnErrorKind::UnterminatedString);
    assert!(matches!(
        err(r#""bad \q escape""#),
        EdnErrorKind::InvalidEscape(_)
    ));
    assert!(matches!(err(r#""\u12G4""#), EdnErrorKind::InvalidEscape(_)));
    assert!(matches!(err(r"\notachar"), EdnErrorKind::InvalidChar(_)));
    assert_eq!(err("[1 2"), EdnErrorKind::UnexpectedEof);
    assert_eq!(err("(1 2]"), EdnErrorKind::UnmatchedDelimiter(']'));
    assert_eq!(err("}"), EdnErrorKind::UnmatchedDelimiter('}'));
    assert_eq!(err("{:a}"), EdnErrorKind::OddMapEntries);
    assert!(matches!(err("{:a 1 :a 2}"), EdnErrorKind::DuplicateKey(_)));
    assert!(matches!(
        err("#{1 1}"),
        EdnErrorKind::DuplicateSetElement(_)
    ));
    assert!(matches!(err("1/2"), EdnErrorKind::Unsupported(_)));
    assert!(matches!(err("1.5M"), EdnErrorKind::Unsupported(_)));
    assert!(matches!(err("::auto"), EdnErrorKind::Unsupported(_)));
    assert!(matches!(err("12abc"), EdnErrorKind::InvalidNumber(_)));
    assert!(matches!(err("a/b/c"), EdnErrorKind::InvalidSymbol(_)));
    assert!(matches!(
        err(r#"#inst "2024-02-30""#),
        EdnErrorKind::InvalidInst(_)
    ));
    assert!(matches!(
        err(r#"#inst "not a date""#),
        EdnErrorKind::InvalidInst(_)
    ));
    assert!(matches!(
        err(r#"#uuid "1234""#),
        EdnErrorKind::InvalidUuid(_)
    ));
    assert!(matches!(err("#"), EdnErrorKind::UnexpectedEof));
    assert_eq!(err(""), EdnErrorKind::UnexpectedEof);
    assert_eq!(err("1 2"), EdnErrorKind::TrailingCharacters);

    let e = "[1\n  \"x".parse::<Value>().unwrap_err();
    assert_eq!((e.line(), e.column(), e.offset()), (2, 3, 5));
    assert!(e.to_string().contains("line 2, column 3"), "{e}");
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    for open in ["[", "(", "{", "#{", "#_", "#t ", "{:a "] {
        let text = open.repeat(100_000);
        assert_eq!(err(&text), EdnErrorKind::TooDeep(MAX_DEPTH), "{open}");
    }
    let just_ok = format!("{}:x{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
    let v = parse(&just_ok);
    round_trip(&v);
    let too_deep = format!("[{just_ok}]");
    assert_eq!(err(&too_deep), EdnErrorKind::TooDeep(MAX_DEPTH));
}

#[test]
fn hostile_inputs_do_not_panic() {
    let samples = [
        "\\",
        "#",
        "##",
        "#_",
        "\"\\",
        "\"\\u",
        "\"\\ud83d\\u",
        ":",
        "::",
        "/",
        "//",
        "-",
        "+",
        "0x",
        "09",
        "1e",
        "#inst",
        "#inst \"",
        "#uuid nil",
        "#bytes 1",
        "{",
        "#{",
        "(",
        "[",
        "\\u",
        "\\o999",
        "#:ns{}",
        "^",
        "#!",
        ";",
        "\u{0}",
        "\\\u{0}",
        "é",
        "#é 1",
        "#é",
        "99999999999999999999999999999999999999999",
        "-0x8000000000000000",
        "#inst \"-999999999-01-01\"",
    ];
    for s in samples {
        // Only must not panic; most are errors.
        let _ = s.parse::<Value>();
    }
    // Every prefix of a valid document.
    let doc = r#"{:a [1 2.5 "x\n" \c #{:k} (nil true)], "s" #inst "2024-01-02T03:04:05.678-00:00", :u #uuid "11111111-2222-3333-4444-555555555555" :b #bytes "AAEC" :t #x/y [1]}"#;
    for i in 0..doc.len() {
        if doc.is_char_boundary(i) {
            let _ = doc[..i].parse::<Value>();
        }
    }
    round_trip(&parse(doc));
}

#[test]
fn every_fixture_edn_string_parses_and_round_trips() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/konserve-clj");
    let mut checked = 0;
    let mut exact = 0;
    for dir in std::fs::read_dir(&root).unwrap() {
        let dir = dir.unwrap().path();
        let manifest = dir.join("manifest.json");
        if !manifest.is_file() {
            continue;
        }
        let m: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
        let mut texts: Vec<String> = Vec::new();
        for e in m["entries"].as_array().unwrap() {
            for field in ["key_edn", "value_edn", "meta_edn", "written_edn"] {
                if let Some(s) = e[field].as_str() {
                    texts.push(s.to_owned());
                }
            }
        }
        for log in m["append_logs"].as_array().unwrap() {
            for field in ["elements_edn", "element_ids_edn"] {
                for s in log[field].as_array().unwrap() {
                    texts.push(s.as_str().unwrap().to_owned());
                }
            }
            texts.push(log["head_value_edn"].as_str().unwrap().to_owned());
        }
        if let Some(k) = m["encryptor"]["key_edn"].as_str() {
            texts.push(k.to_owned());
        }
        for text in texts {
            let v = parse(&text);
            let printed = v.to_string();
            assert_eq!(parse(&printed), v, "{text}");
            if printed == text {
                exact += 1;
            }
            checked += 1;
        }
    }
    assert!(checked >= 13 * 26 * 3, "{checked}");
    // Whatever has no map or set of several entries prints exactly as Clojure did.
    assert!(exact * 10 >= checked * 6, "{exact} of {checked}");
}

#[test]
fn fixture_values_print_exactly() {
    for text in [
        r#"#inst "2024-01-02T03:04:05.678-00:00""#,
        "9007199254740993",
        "3.25",
        "\"héllo ✓ 日本\"",
        ":ns/kw",
        "(1 2)",
        "{:a 1, :b {:c [1 2]}}",
        "{:a {:b 5, :c \"x\"}}",
        "[1 \"two\" :three]",
        "{\"string-key\" 1}",
    ] {
        assert_eq!(parse(text).to_string(), text);
    }
    // Maps print in this crate's key order, not Clojure's hash order.
    assert_eq!(
        parse(r#"{:next nil, :elem {:event "second", :n 2}}"#).to_string(),
        r#"{:elem {:event "second", :n 2}, :next nil}"#
    );
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
enum Status {
    Active,
    Suspended { days: u32 },
    Renamed(String),
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct User {
    name: String,
    age: u32,
    email: Option<String>,
    tags: Vec<String>,
    scores: HashMap<String, i64>,
    status: Status,
    #[serde(rename = "db/id")]
    id: i64,
    #[serde(with = "konserve_s3::value::serde_uuid")]
    uid: uuid::Uuid,
    extra: Value,
    kw: Keyword,
    ratio: f64,
    big: u64,
}

fn user() -> User {
    User {
        name: "x".into(),
        age: 3,
        email: None,
        tags: vec!["a".into(), "b".into()],
        scores: [("math".to_string(), 7)].into(),
        status: Status::Suspended { days: 2 },
        id: 17,
        uid: "11111111-2222-3333-4444-555555555555".parse().unwrap(),
        extra: parse(r#"#{(1 2) #inst "2024-01-02T03:04:05.678-00:00" :k}"#),
        kw: Keyword::ns("ns", "kw"),
        ratio: 0.5,
        big: u64::MAX,
    }
}

#[test]
fn serde_struct_uses_keyword_keys_and_round_trips() {
    let u = user();
    let v = to_value(&u).unwrap();
    assert_eq!(
        v.to_string(),
        concat!(
            r#"{:age 3, :big 18446744073709551615N, :email nil, "#,
            r#":extra #{:k #inst "2024-01-02T03:04:05.678-00:00" (1 2)}, :kw :ns/kw, :name "x", "#,
            r#":ratio 0.5, :scores {"math" 7}, :status {:Suspended {:days 2}}, :tags ["a" "b"], "#,
            r#":uid #uuid "11111111-2222-3333-4444-555555555555", :db/id 17}"#
        )
    );
    assert_eq!(v.get(&Value::keyword("name")), Some(&Value::from("x")));
    let back: User = from_value(v.clone()).unwrap();
    assert_eq!(back, u);
    // Through EDN text too.
    let back: User = from_value(parse(&v.to_string())).unwrap();
    assert_eq!(back, u);
}

#[test]
fn serde_reads_string_keys_and_variants() {
    let v = parse(
        r#"{"name" "y", "age" 4, :email "e@x", :tags ("t"), :scores {:math 1},
            :status :Active, :db/id 1, :uid "11111111-2222-3333-4444-555555555555",
            :extra nil, :kw "ns/kw", :ratio 2, :big 5, :ignored-field [1 2 3]}"#,
    );
    let u: User = from_value(v).unwrap();
    assert_eq!(u.name, "y");
    assert_eq!(u.email.as_deref(), Some("e@x"));
    assert_eq!(u.tags, vec!["t"]);
    assert_eq!(u.scores["math"], 1);
    assert_eq!(u.status, Status::Active);
    assert_eq!(u.kw, Keyword::ns("ns", "kw"));
    assert_eq!(u.ratio, 2.0);
    assert_eq!(u.extra, Value::Nil);
    let s: Status = from_value(parse(r#"{"Renamed" "z"}"#)).unwrap();
    assert_eq!(s, Status::Renamed("z".into()));
    assert_eq!(to_value(&Status::Active).unwrap(), Value::keyword("Active"));
}

#[test]
fn serde_errors_are_typed() {
    let e: ValueError = from_value::<User>(parse("{:name 5}")).unwrap_err();
    assert!(matches!(e, ValueError::Custom(_)));
    assert!(from_value::<u8>(Value::Int(300)).is_err());
    assert!(from_value::<i64>(Value::from("x")).is_err());
    assert!(from_value::<Status>(Value::keyword("Nope")).is_err());
    assert!(from_value::<(i64, i64)>(Value::vector([1, 2, 3])).is_err());
}

#[test]
fn serde_scalars_and_collections() {
    assert_eq!(to_value(&Option::<i32>::None).unwrap(), Value::Nil);
    assert_eq!(to_value(&Some(3u8)).unwrap(), Value::Int(3));
    assert_eq!(
        to_value(&u128::MAX).unwrap().to_string(),
        "340282366920938463463374607431768211455N"
    );
    assert_eq!(to_value(&0.1f32).unwrap(), Value::Float(0.1));
    assert_eq!(to_value(&'c').unwrap(), Value::Char('c'));
    assert_eq!(to_value(&()).unwrap(), Value::Nil);
    let bm: BTreeMap<i32, bool> = [(1, true)].into();
    assert_eq!(to_value(&bm).unwrap().to_string(), "{1 true}");
    assert_eq!(
        from_value::<BTreeMap<i32, bool>>(parse("{1 true}")).unwrap(),
        bm
    );
    assert_eq!(
        from_value::<Vec<u8>>(Value::Bytes(vec![1, 2])).unwrap(),
        vec![1, 2]
    );
    assert_eq!(from_value::<Vec<i32>>(parse("#{1 2}")).unwrap(), vec![1, 2]);
    assert_eq!(
        from_value::<i64>(parse(r#"#inst "1970-01-01T00:00:01.000-00:00""#)).unwrap(),
        1000
    );
    assert_eq!(from_value::<u64>(Value::from(u64::MAX)).unwrap(), u64::MAX);
    assert_eq!(from_value::<String>(Value::keyword("a")).unwrap(), "a");
    assert_eq!(
        from_value::<uuid::Uuid>(parse(r#"#uuid "11111111-2222-3333-4444-555555555555""#))
            .unwrap()
            .to_string(),
        "11111111-2222-3333-4444-555555555555"
    );
    // Value itself survives the bridge unchanged, including EDN-only kinds.
    let v = parse(
        r#"[#{1} (2) :k sym #uuid "11111111-2222-3333-4444-555555555555" #inst "2024-01-02T03:04:05.678-00:00" #bytes "AAE=" #t/x [1] 18446744073709551615N \c]"#,
    );
    assert_eq!(to_value(&v).unwrap(), v);
    assert_eq!(from_value::<Value>(v.clone()).unwrap(), v);
    assert_eq!(
        from_value::<Vec<Value>>(v.clone()).unwrap(),
        v.as_seq().unwrap().to_vec()
    );
}

#[test]
fn value_with_json() {
    // Other formats see plain data.
    let v = parse(r#"{:a [1 2.5 "x" nil true], :k :ns/kw}"#);
    let json = serde_json::to_string(&v).unwrap();
    assert_eq!(json, r#"{"a":[1,2.5,"x",null,true],"k":"ns/kw"}"#);
    let back: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        back.to_string(),
        r#"{"a" [1 2.5 "x" nil true], "k" "ns/kw"}"#
    );
}

/// A small deterministic PRNG (xorshift64*), so the tests need no extra crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

fn random_name(rng: &mut Rng) -> String {
    const FIRST: &[char] = &[
        'a', 'b', 'z', '*', '+', '!', '-', '_', '?', '<', '>', '=', 'é', '.',
    ];
    const REST: &[char] = &[
        'a', 'k', '0', '9', '-', '.', '*', '#', '\'', ':', '$', '&', '%', 'λ',
    ];
    let mut s = String::new();
    s.push(*rng.pick(FIRST));
    for _ in 0..rng.below(6) {
        s.push(*rng.pick(REST));
    }
    // Avoid names that read as something else or are invalid EDN names.
    while s.contains("::") {
        s = s.replace("::", ":x:");
    }
    if s.ends_with(':') || matches!(s.as_str(), "nil" | "true" | "false") {
        s.push('x');
    }
    if (s.starts_with('-') || s.starts_with('+'))
        && s[1..].starts_with(|c: char| c.is_ascii_digit())
    {
        s.insert(1, 'x');
    }
    s
}

fn random_char(rng: &mut Rng) -> char {
    match rng.below(4) {
        0 => *rng.pick(&[
            '"', '\\', '\n', '\t', '\r', '\u{8}', '\u{c}', ' ', ',', ';', '\u{0}', '\u{b}', '(',
            '#',
        ]),
        1 => char::from_u32(rng.below(0x80) as u32).unwrap_or('?'),
        2 => char::from_u32(rng.below(0x11_0000) as u32).unwrap_or('\u{fffd}'),
        _ => *rng.pick(&['é', '日', '😡', '✓']),
    }
}

fn random_value(rng: &mut Rng, depth: u32) -> Value {
    let leaf = depth >= 4 || rng.below(3) > 0;
    if leaf {
        match rng.below(14) {
            0 => Value::Nil,
            1 => Value::Bool(rng.below(2) == 0),
            2 => Value::Int(rng.next() as i64 >> rng.below(64)),
            3 => Value::from(i128::from(rng.next() as i64) * i128::from(u64::MAX)),
            4 => {
                let f = f64::from_bits(rng.next());
                Value::Float(if f.is_nan() { f64::NAN } else { f })
            }
            5 => Value::Float((rng.next() as i64 >> rng.below(64)) as f64 / 1000.0),
            6 => Value::String((0..rng.below(8)).map(|_| random_char(rng)).collect()),
            7 => Value::Char(random_char(rng)),
            8 => {
                if rng.below(2) == 0 {
                    Value::keyword(random_name(rng))
                } else {
                    Value::keyword_ns(random_name(rng), random_name(rng))
                }
            }
            9 => {
                if rng.below(2) == 0 {
                    Value::Symbol(Symbol::simple(random_name(rng)))
                } else {
                    Value::Symbol(Symbol::ns(random_name(rng), random_name(rng)))
                }
            }
            10 => Value::Uuid(uuid::Uuid::from_u64_pair(rng.next(), rng.next())),
            11 => Value::Inst(rng.next() as i64 >> rng.below(64)),
            12 => Value::Bytes((0..rng.below(6)).map(|_| rng.next() as u8).collect()),
            _ => Value::symbol("/"),
        }
    } else {
        let n = rng.below(5);
        let items: Vec<Value> = (0..n).map(|_| random_value(rng, depth + 1)).collect();
        match rng.below(5) {
            0 => Value::Vector(items),
            1 => Value::List(items),
            2 => Value::Set(items.into_iter().collect()),
            3 => Value::Map(
                items
                    .into_iter()
                    .map(|k| {
                        let v = random_value(rng, depth + 1);
                        (k, v)
                    })
                    .collect(),
            ),
            _ => {
                let tag = Symbol::ns(
                    "my",
                    random_name(rng)
                        .trim_start_matches(|c: char| !c.is_alphabetic())
                        .to_owned()
                        + "t",
                );
                Value::Tagged(
                    tag,
                    Box::new(items.into_iter().next().unwrap_or(Value::Nil)),
                )
            }
        }
    }
}

#[test]
fn random_values_round_trip_through_edn_and_serde() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..5_000 {
        let v = random_value(&mut rng, 0);
        let printed = v.to_string();
        let back: Value = printed
            .parse()
            .unwrap_or_else(|e| panic!("cannot re-read {printed:?}: {e}"));
        assert_eq!(back, v, "{printed}");
        assert_eq!(back.to_string(), printed);
        assert_eq!(
            konserve_s3::hasch::edn_hash(&back),
            konserve_s3::hasch::edn_hash(&v)
        );
        assert_eq!(to_value(&v).unwrap(), v, "{printed}");
        assert_eq!(from_value::<Value>(v.clone()).unwrap(), v, "{printed}");
    }
}

#[test]
fn random_text_never_panics() {
    const PIECES: &[&str] = &[
        "[",
        "]",
        "(",
        ")",
        "{",
        "}",
        "#{",
        "#_",
        "##",
        "#",
        "\"",
        "\\",
        "\\u",
        "\\o",
        ":",
        "::",
        "/",
        "a",
        "ns/b",
        "1",
        "-",
        "+",
        "0x",
        "N",
        "M",
        "e",
        ".",
        "r",
        "36r",
        " ",
        ",",
        ";",
        "\n",
        "#inst",
        "#uuid",
        "#bytes",
        "\"2024-01-02T03:04:05.678Z\"",
        "#my/t",
        "nil",
        "é",
        "😡",
        "\\ud800",
        "\"\\ud83d\\ude00\"",
        "^",
        "#:",
        "9999999999999999999999",
        "1/2",
        "1.5M",
        "##NaN",
    ];
    let mut rng = Rng(42);
    for _ in 0..30_000 {
        let text: String = (0..rng.below(12)).map(|_| *rng.pick(PIECES)).collect();
        if let Ok(v) = text.parse::<Value>() {
            let printed = v.to_string();
            assert_eq!(
                printed.parse::<Value>().ok(),
                Some(v),
                "{text:?} -> {printed:?}"
            );
        }
    }
}

/// The rows of a tab-separated fixture written by Clojure.
fn clojure_rows(name: &str) -> Vec<Vec<String>> {
    let path = format!(
        "{}/tests/fixtures/clojure_inst/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .map(|line| line.split('\t').map(str::to_owned).collect())
        .collect()
}

/// Clojure's millis column: `None` where Clojure's reader refused the text.
fn clojure_millis(cell: &str) -> Option<i64> {
    (cell != "ERROR").then(|| cell.parse().unwrap_or_else(|e| panic!("{cell}: {e}")))
}

/// `#inst` text as Clojure prints a `java.util.Date` (Julian before
/// 1582-10-15) and reads it back, from tests/fixtures/clojure_inst/.
#[test]
fn inst_text_matches_clojure() {
    // Julian 0001-01-01T00:00Z: from here on Clojure's text names the year
    // unambiguously; before it, Java drops the era.
    const AD_1: i64 = -62_135_769_600_000;
    let rows = clojure_rows("print.tsv");
    assert!(rows.len() > 150);
    for row in &rows {
        let [ms, text, back] = &row[..] else {
            panic!("{row:?}")
        };
        let ms: i64 = ms.parse().unwrap();
        let ours = Value::Inst(ms).to_string();
        let inner = ours
            .strip_prefix("#inst \"")
            .and_then(|s| s.strip_suffix('"'))
            .unwrap();
        // Clojure reads its own text as this (an AD year even for BC dates).
        if let Some(back) = clojure_millis(back) {
            assert_eq!(
                parse(&format!("#inst {text:?}")),
                Value::Inst(back),
                "{text}"
            );
        }
        // Ours always reads back as the instant.
        assert_eq!(parse(&ours), Value::Inst(ms), "{ours}");
        if ms >= AD_1 {
            assert_eq!(inner, text, "{ms}");
        } else {
            // 1 BC is year 0, 2 BC year -1, …: the rest of the text is Clojure's.
            let (era_year, rest) = text.split_once('-').unwrap();
            let era_year: i64 = era_year.parse().unwrap();
            let year = 1 - era_year;
            let want = if year < 0 {
                format!("-{:04}-{rest}", -year)
            } else {
                format!("{year:04}-{rest}")
            };
            assert_eq!(inner, want, "{ms}: Clojure prints {text}");
        }
    }
    for row in clojure_rows("read.tsv") {
        let [text, ms] = &row[..] else {
            panic!("{row:?}")
        };
        let ms = clojure_millis(ms).expect("Clojure reads every text of read.tsv");
        assert_eq!(parse(&format!("#inst {text:?}")), Value::Inst(ms), "{text}");
    }
}
