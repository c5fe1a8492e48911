//! Loading a hooks folder: every `*.pb.js` file at its top level, in name order, runs once
//! in a loader runtime; what it registers (`routerAdd`, `routerUse`, ...) becomes the
//! `Registry` the executors run from.

use std::path::Path;
use std::rc::Rc;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use super::bridge::LoaderHost;
use super::registry::{Handler, Middleware, Pattern, Registry, Route};
use super::runtime::Js;
use crate::error::{Error, Result};

/// A hooks file: its name (relative to the folder), text and modification time.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    pub name: String,
    pub text: String,
    pub modified: Option<SystemTime>,
}

/// The `.js` files of `dir` (the `*.pb.js` hooks and the modules they may `require`),
/// sorted by name; none when the folder does not exist.
pub fn sources(dir: &Path) -> Result<Vec<Source>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(Error::internal(format!(
                "cannot read {}: {e}",
                dir.display()
            )));
        }
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".js") || name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Error::internal(format!("cannot read {}: {e}", path.display())))?;
        let modified = entry.metadata().and_then(|m| m.modified()).ok();
        found.push(Source {
            name,
            text,
            modified,
        });
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(found)
}

/// Runs the files and collects what they register.
pub fn load(files: &[Source], dir: &Path, memory: usize, budget: Duration) -> Result<Registry> {
    let host = Rc::new(LoaderHost {
        dir: dir.to_path_buf(),
        registrations: Default::default(),
    });
    let js = Js::new(memory, host.clone(), dir)?;
    for file in files.iter().filter(|f| f.name.ends_with(".pb.js")) {
        js.run_file(&file.name, &file.text, budget)
            .map_err(|e| Error::internal(format!("{}: {}", file.name, e.describe())))?;
    }
    let registrations = host.registrations.take();
    let mut registry = Registry::default();
    for registration in registrations {
        let kind = registration[0].as_str().unwrap_or("");
        let spec = &registration[1];
        let file = spec["file"].as_str().unwrap_or("");
        let text = files
            .iter()
            .find(|f| f.name == file)
            .map_or("", |f| f.text.as_str());
        let middlewares = middlewares(&mut registry, &spec["middlewares"], file, text);
        match kind {
            "route" => {
                let path = spec["path"].as_str().unwrap_or("");
                let pattern =
                    Pattern::parse(path).map_err(|e| Error::internal(format!("{file}: {e}")))?;
                let method = spec["method"]
                    .as_str()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_uppercase();
                let handler = add_handler(
                    &mut registry,
                    spec["handler"].as_str().unwrap_or(""),
                    file,
                    text,
                );
                registry.routes.push(Route {
                    method: (!method.is_empty() && method != "*").then_some(method),
                    pattern,
                    handler,
                    middlewares,
                });
            }
            "use" => registry.global.extend(middlewares),
            "cron" => {
                let id = spec["id"].as_str().unwrap_or("").to_owned();
                let expr = spec["expr"].as_str().unwrap_or("").to_owned();
                crate::crons::parse(&expr)
                    .map_err(|e| Error::internal(format!("{file}: cronAdd({id:?}): {e}")))?;
                let handler = add_handler(
                    &mut registry,
                    spec["handler"].as_str().unwrap_or(""),
                    file,
                    text,
                );
                registry.crons.retain(|(other, _, _)| *other != id);
                registry.crons.push((id, expr, handler));
            }
            "cronRemove" => {
                let id = spec["id"].as_str().unwrap_or("");
                registry.crons.retain(|(other, _, _)| other != id);
            }
            "hook" => {
                let name = spec["name"].as_str().unwrap_or("").to_owned();
                if !super::registry::RECORD_HOOKS.contains(&name.as_str()) {
                    log::warn!("hooks: {file} binds {name}, which hearth does not run yet");
                    continue;
                }
                let handler = add_handler(
                    &mut registry,
                    spec["handler"].as_str().unwrap_or(""),
                    file,
                    text,
                );
                let collections = spec["collections"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|c| c.as_str().map(str::to_owned))
                    .collect();
                registry.hooks.push(super::registry::Hook {
                    name,
                    collections,
                    handler,
                });
            }
            _ => {}
        }
    }
    Ok(registry)
}

fn add_handler(registry: &mut Registry, source: &str, file: &str, text: &str) -> usize {
    let line = text
        .find(source)
        .map_or(1, |at| text[..at].matches('\n').count() + 1);
    registry.handlers.push(Handler {
        source: source.to_owned(),
        file: file.to_owned(),
        line,
    });
    registry.handlers.len() - 1
}

fn middlewares(registry: &mut Registry, list: &Value, file: &str, text: &str) -> Vec<Middleware> {
    let mut out = Vec::new();
    for m in list.as_array().into_iter().flatten() {
        let args: Vec<String> = m["args"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a.as_str().map(str::to_owned))
            .collect();
        let middleware = match m["__builtin"].as_str() {
            Some("requireAuth") => Middleware::RequireAuth(args),
            Some("requireSuperuserAuth") => Middleware::RequireSuperuserAuth,
            Some("requireGuestOnly") => Middleware::RequireGuestOnly,
            Some("requireSuperuserOrOwnerAuth") => Middleware::RequireSuperuserOrOwnerAuth(
                args.into_iter().next().unwrap_or_else(|| "id".into()),
            ),
            Some("bodyLimit") => Middleware::BodyLimit(m["args"][0].as_u64().unwrap_or(0)),
            Some(_) => continue,
            None => {
                let Some(source) = m["js"].as_str() else {
                    continue;
                };
                let handler = add_handler(registry, source, file, text);
                Middleware::Js {
                    handler,
                    priority: m["priority"].as_i64().unwrap_or(0),
                }
            }
        };
        out.push(middleware);
    }
    out
}
