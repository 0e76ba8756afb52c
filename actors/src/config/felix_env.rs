//! `FELIX_*` variables: overrides of FelixConfiguration fields, which beat what the datastore
//! says (Felix's precedence: environment > config file > per-host resource > global resource >
//! default). `FELIX_<NAME>` names a field of FelixConfiguration case-insensitively
//! (`FELIX_DEFAULTENDPOINTTOHOSTACTION` is `defaultEndpointToHostAction`), and its value is
//! written as Felix takes it from the environment: `true`, `9091`, `Drop`, a duration in
//! seconds (`90`) or as Go writes it (`1m30s`), and port lists as `tcp:22,udp:68`.

use std::collections::BTreeMap;

use model::resources::FelixConfigurationSpec;
use serde::Deserialize;
use serde_json::{Map, Value};

/// The `FELIX_*` variables of the environment, by lower-cased name without the prefix.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FelixEnv {
    vars: BTreeMap<String, String>,
}

/// A `FELIX_*` variable that could not be applied, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FelixEnvProblem {
    pub var: String,
    pub value: String,
    pub problem: String,
}

impl std::fmt::Display for FelixEnvProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={:?}: {}", self.var, self.value, self.problem)
    }
}

impl FelixEnv {
    /// The `FELIX_*` variables `lookup` knows. The process environment cannot be listed
    /// through a lookup, so this asks for every field of FelixConfiguration by its
    /// upper-cased name.
    pub fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> FelixEnv {
        let vars = spec_fields()
            .iter()
            .filter_map(|field| {
                let value = lookup(&format!("FELIX_{}", field.to_uppercase()))?;
                let value = value.trim().to_owned();
                (!value.is_empty()).then(|| (field.to_lowercase(), value))
            })
            .collect();
        FelixEnv { vars }
    }

    pub fn is_empty(&self) -> bool {
        self.vars.is_empty()
    }

    /// `spec` with every override applied. An override that does not fit its field is
    /// left out and reported; the others still apply.
    pub fn apply(
        &self,
        spec: &FelixConfigurationSpec,
    ) -> (FelixConfigurationSpec, Vec<FelixEnvProblem>) {
        let mut current = spec.clone();
        let mut problems = Vec::new();
        for (name, value) in &self.vars {
            let Some(field) = spec_fields().iter().find(|f| f.to_lowercase() == *name) else {
                continue;
            };
            let mut last_error = String::new();
            let applied = candidates(value).into_iter().find_map(|candidate| {
                let mut json = match serde_json::to_value(&current) {
                    Ok(Value::Object(m)) => m,
                    _ => Map::new(),
                };
                json.insert((*field).to_owned(), candidate);
                match serde_json::from_value::<FelixConfigurationSpec>(Value::Object(json)) {
                    Ok(s) => Some(s),
                    Err(e) => {
                        last_error = e.to_string();
                        None
                    }
                }
            });
            match applied {
                Some(s) => current = s,
                None => problems.push(FelixEnvProblem {
                    var: format!("FELIX_{}", field.to_uppercase()),
                    value: value.clone(),
                    problem: format!("does not fit field {field}: {last_error}"),
                }),
            }
        }
        (current, problems)
    }
}

/// The JSON values an environment string may stand for, most literal first: a JSON scalar
/// (`true`, `9091`), the string itself, seconds as a Go duration (`90` → `"1m30s"` is read from
/// `"90s"`), and a `proto:port[,proto:port]` list as failsafe port objects.
fn candidates(value: &str) -> Vec<Value> {
    let mut out = Vec::new();
    if let Ok(v @ (Value::Bool(_) | Value::Number(_))) = serde_json::from_str::<Value>(value) {
        out.push(v);
    }
    out.push(Value::String(value.to_owned()));
    if value.parse::<f64>().is_ok() {
        out.push(Value::String(format!("{value}s")));
    }
    let ports: Option<Vec<Value>> = value
        .split(',')
        .map(|item| {
            let (proto, port) = item.trim().split_once(':')?;
            let port: u16 = port.trim().parse().ok()?;
            Some(serde_json::json!({ "protocol": proto.trim().to_uppercase(), "port": port }))
        })
        .collect();
    if let Some(ports) = ports {
        out.push(Value::Array(ports));
    }
    if value.eq_ignore_ascii_case("none") {
        out.push(Value::Array(Vec::new()));
    }
    out
}

/// The JSON names of FelixConfiguration's fields, as serde knows them: asked of the derived
/// `Deserialize` impl, which names every field when it deserializes a struct.
fn spec_fields() -> &'static [&'static str] {
    struct FieldNames(Option<&'static [&'static str]>);

    #[derive(Debug)]
    struct Stop;
    impl std::fmt::Display for Stop {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("field names read")
        }
    }
    impl std::error::Error for Stop {}
    impl serde::de::Error for Stop {
        fn custom<T: std::fmt::Display>(_: T) -> Self {
            Stop
        }
    }

    impl<'de> serde::Deserializer<'de> for &mut FieldNames {
        type Error = Stop;
        fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
            Err(Stop)
        }
        fn deserialize_struct<V: serde::de::Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Stop> {
            self.0 = Some(fields);
            Err(Stop)
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }

    let mut names = FieldNames(None);
    let _ = FelixConfigurationSpec::deserialize(&mut names);
    names.0.unwrap_or(&[])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> FelixEnv {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        FelixEnv::from_lookup(&|name| map.get(name).cloned())
    }

    #[test]
    fn the_field_list_comes_from_the_resource_type() {
        let fields = spec_fields();
        assert!(fields.len() > 100, "{}", fields.len());
        assert!(fields.contains(&"defaultEndpointToHostAction"));
    }

    #[test]
    fn overrides_are_typed_as_their_fields() {
        let e = env(&[
            ("FELIX_DEFAULTENDPOINTTOHOSTACTION", "Accept"),
            ("FELIX_PROMETHEUSMETRICSPORT", "9092"),
            ("FELIX_PROMETHEUSMETRICSENABLED", "true"),
            ("FELIX_ROUTEREFRESHINTERVAL", "30"),
            ("FELIX_FAILSAFEINBOUNDHOSTPORTS", "tcp:22,udp:68"),
            ("FELIX_NOTAFIELD", "x"),
        ]);
        let (spec, problems) = e.apply(&FelixConfigurationSpec::default());
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(spec.default_endpoint_to_host_action, "Accept");
        assert_eq!(
            spec.route_refresh_interval.map(|d| d.nanos),
            Some(30_000_000_000)
        );
        let ports = spec.failsafe_inbound_host_ports.unwrap();
        assert_eq!(ports.len(), 2);
        assert_eq!((ports[1].protocol.as_str(), ports[1].port), ("UDP", 68));
    }

    #[test]
    fn an_override_that_does_not_fit_is_reported_and_the_rest_apply() {
        let e = env(&[
            ("FELIX_PROMETHEUSMETRICSPORT", "ninety"),
            ("FELIX_DEFAULTENDPOINTTOHOSTACTION", "Return"),
        ]);
        let (spec, problems) = e.apply(&FelixConfigurationSpec::default());
        assert_eq!(spec.default_endpoint_to_host_action, "Return");
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0]
                .to_string()
                .starts_with("FELIX_PROMETHEUSMETRICSPORT=\"ninety\"")
        );
    }
}
