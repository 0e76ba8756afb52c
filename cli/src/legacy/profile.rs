//! `profile show | add P | remove P`, `profile P tag show|add T|remove T`, and
//! `profile P rule show|add|remove ...` (grammar in [`rule_grammar`]).
//!
//! `profile add P` writes v0.9's defaults as a v3 Profile named `P`: the tag `P` becomes
//! `labelsToApply: {P: ""}`, the inbound rule "allow from tag P" becomes ingress
//! `[{action: Allow, source: {selector: "has(P)"}}]`, and the outbound "allow" becomes egress
//! `[{action: Allow}]`. A v0.9 tag is a key of `labelsToApply`. The name must be a valid v3
//! resource name (lower case): Calico's conversion would rename it, so it is refused instead.

use anyhow::{Result, anyhow, bail};
use datastore::typed::{ResourceId, ResourceStore};
use model::resources::{Kind, Resource};
use serde_json::{Map, Value, json};

use super::rule_grammar::{Direction, RuleCommand, parse_rule_command};
use super::rule_show::render_v3_rule;
use super::{edit_spec, new_resource};
use crate::args::ProfileArgs;
use crate::changeset::{Changeset, PutMode, prepare};
use crate::output::table;

const USAGE: &str = "usage: profile show | profile add <PROFILE> | profile remove <PROFILE> | \
                     profile <PROFILE> tag (show | add <TAG> | remove <TAG>) | \
                     profile <PROFILE> rule (show | add ... | remove ...)";

pub async fn run(store: &ResourceStore, args: ProfileArgs) -> Result<()> {
    let w: Vec<&str> = args.words.iter().map(String::as_str).collect();
    match w.as_slice() {
        ["show"] | ["show", "--detailed"] => show(store).await,
        ["add", name] => add(store, name).await,
        ["remove", name] | ["remove", name, "--no-check"] => remove(store, name).await,
        [name, "rule", ..] => rule(store, name, &args.words[2..]).await,
        [name, "tag", rest @ ..] => tag(store, name, rest).await,
        _ => bail!(
            "invalid profile command {:?}\n{USAGE}",
            args.words.join(" ")
        ),
    }
}

async fn show(store: &ResourceStore) -> Result<()> {
    let rows: Vec<Vec<String>> = store
        .list(Kind::Profile, None)
        .await?
        .items
        .iter()
        .map(|p| vec![p.metadata().name.clone()])
        .collect();
    print!("{}", table::render(&["NAME"], &rows));
    Ok(())
}

async fn add(store: &ResourceStore, name: &str) -> Result<()> {
    if store.get(Kind::Profile, None, name).await?.is_some() {
        println!("Profile {name} already exists.");
        return Ok(());
    }
    let spec = json!({
        "labelsToApply": {name: ""},
        "ingress": [{"action": "Allow", "source": {"selector": format!("has({name})")}}],
        "egress": [{"action": "Allow"}],
    });
    let profile = new_resource(Kind::Profile, name, spec)?;
    let mut cs = Changeset::new();
    cs.put(format!("profile add {name}"), PutMode::Create, profile);
    cs.commit(store).await?;
    println!("Created profile {name}");
    Ok(())
}

async fn remove(store: &ResourceStore, name: &str) -> Result<()> {
    let profile = get(store, name).await?;
    let mut cs = Changeset::new();
    cs.delete(
        format!("profile remove {name}"),
        ResourceId::of(&profile),
        profile.metadata().resource_version.clone(),
    );
    cs.commit(store).await?;
    println!("Deleted profile {name}");
    Ok(())
}

async fn get(store: &ResourceStore, name: &str) -> Result<Resource> {
    store
        .get(Kind::Profile, None, name)
        .await?
        .ok_or_else(|| anyhow!("Profile {name} not found."))
}

async fn save(store: &ResourceStore, origin: String, profile: Resource) -> Result<()> {
    let mut cs = Changeset::new();
    cs.put(origin, PutMode::Replace, profile);
    cs.commit(store).await?;
    Ok(())
}

async fn tag(store: &ResourceStore, name: &str, rest: &[&str]) -> Result<()> {
    let profile = get(store, name).await?;
    let spec = profile.spec_value();
    let tags: Vec<String> = spec
        .get("labelsToApply")
        .and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    match rest {
        ["show"] => {
            for t in tags {
                println!("{t}");
            }
            Ok(())
        }
        ["add", t] => {
            let changed = edit_spec(&profile, |s| {
                labels_to_apply(s).insert(t.to_string(), json!(""));
            })?;
            save(store, format!("profile {name} tag add {t}"), changed).await?;
            println!("Tag {t} added to profile {name}");
            Ok(())
        }
        ["remove", t] => {
            if !tags.iter().any(|x| x == t) {
                bail!("Tag {t} is not on profile {name}");
            }
            let changed = edit_spec(&profile, |s| {
                labels_to_apply(s).remove(*t);
            })?;
            save(store, format!("profile {name} tag remove {t}"), changed).await?;
            println!("Tag {t} removed from profile {name}");
            Ok(())
        }
        _ => bail!("invalid tag command\n{USAGE}"),
    }
}

fn labels_to_apply(spec: &mut Map<String, Value>) -> &mut Map<String, Value> {
    let v = spec
        .entry("labelsToApply")
        .or_insert_with(|| Value::Object(Map::new()));
    if !v.is_object() {
        *v = Value::Object(Map::new());
    }
    match v {
        Value::Object(m) => m,
        _ => unreachable!("labelsToApply was just made an object"),
    }
}

fn rules(spec: &Value, d: Direction) -> Vec<Value> {
    spec.get(d.field())
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

async fn rule(store: &ResourceStore, name: &str, words: &[String]) -> Result<()> {
    let cmd = parse_rule_command(words)?;
    let profile = get(store, name).await?;
    let spec = profile.spec_value();
    let (direction, mut list) = match &cmd {
        RuleCommand::Show => {
            for (title, d) in [
                ("Inbound rules:", Direction::Inbound),
                ("Outbound rules:", Direction::Outbound),
            ] {
                println!("{title}");
                for (i, r) in rules(&spec, d).iter().enumerate() {
                    println!(" {:>3} {}", i + 1, render_v3_rule(r));
                }
            }
            return Ok(());
        }
        RuleCommand::Add { direction, .. }
        | RuleCommand::Remove { direction, .. }
        | RuleCommand::RemoveAt { direction, .. } => (*direction, rules(&spec, *direction)),
    };
    let words = words.join(" ");
    match cmd {
        RuleCommand::Show => unreachable!("handled above"),
        RuleCommand::Add { at, rule, .. } => {
            let new = canonical_rule(&profile, direction, rule.to_v3())?;
            if list.contains(&new) {
                println!("Rule already present, skipping.");
                return Ok(());
            }
            let pos = at.unwrap_or(list.len() + 1);
            if pos > list.len() + 1 {
                bail!(
                    "Position {pos} is out-of-range: profile {name} has {} {} rule(s)",
                    list.len(),
                    direction.field()
                );
            }
            list.insert(pos - 1, new);
        }
        RuleCommand::RemoveAt { at, .. } => {
            if at > list.len() {
                bail!(
                    "Rule position {at} is out-of-range: profile {name} has {} {} rule(s)",
                    list.len(),
                    direction.field()
                );
            }
            list.remove(at - 1);
        }
        RuleCommand::Remove { rule, .. } => {
            let target = canonical_rule(&profile, direction, rule.to_v3())?;
            let Some(i) = list.iter().position(|r| *r == target) else {
                bail!("Rule not found.");
            };
            list.remove(i);
        }
    }
    let changed = edit_spec(&profile, |s| {
        s.insert(direction.field().into(), Value::Array(list));
    })?;
    save(store, format!("profile {name} rule {words}"), changed).await
}

/// A rule as it reads back from the store (decoded, defaulted, re-encoded), so that it compares
/// equal to stored rules. Fails with the validation error if the rule is invalid.
fn canonical_rule(profile: &Resource, d: Direction, rule: Value) -> Result<Value> {
    let mut probe = edit_spec(profile, |s| {
        s.insert(d.field().into(), json!([rule]));
    })?;
    prepare(&mut probe).map_err(|e| anyhow!("invalid rule: {e}"))?;
    rules(&probe.spec_value(), d)
        .into_iter()
        .next()
        .ok_or_else(|| anyhow!("the rule did not survive decoding"))
}
