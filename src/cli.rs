//! The command line: one clap-derive `Command` enum, one function per subcommand. Shapes
//! follow PocketBase's CLI where the two overlap.

use clap::{Parser, Subcommand};

use crate::auth::superusers::{self, Saved, Superuser};
use crate::config::{Config, DirArgs, ServeArgs};
use crate::db::{Db, PoolOptions, migrate};
use crate::error::{Error, Result};

#[derive(Debug, Parser)]
#[command(
    name = "hearth",
    version,
    about = "A whole application backend in one binary."
)]
pub struct Cli {
    #[command(flatten)]
    pub dir: DirArgs,
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once at start-up: the size of the serve flags costs nothing worth boxing them for.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the server: JSON API under /api/, admin UI under /_/.
    Serve(ServeArgs),
    /// Manage superusers (safe while the server runs).
    #[command(subcommand)]
    Superuser(SuperuserCommand),
    /// Apply, revert or list migrations: the system schema's and the app's JS migrations.
    Migrate(MigrateArgs),
    /// Check both databases (integrity and foreign keys); exits 1 on any finding.
    Check,
    /// Export or import collection definitions (the JSON of PUT /api/collections/import).
    #[command(subcommand)]
    Collections(CollectionsCommand),
    /// Maintain the request logs in auxiliary.db.
    #[command(subcommand)]
    Logs(LogsCommand),
    /// Write the OpenAPI 3.1 document of the current collections to FILE ("-" or none: stdout).
    Openapi { file: Option<String> },
    /// Create, list or restore backup archives in DIR/backups.
    #[command(subcommand)]
    Backup(BackupCommand),
    /// Convert another backend's data dir into a new hearth data dir (--dir).
    #[command(subcommand)]
    Import(ImportCommand),
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Convert a PocketBase 0.23+ data dir (pb_data) into --dir, which must be new or
    /// empty; PocketBase's files are only read, and it may keep running meanwhile.
    Pocketbase {
        /// PocketBase's data dir (the folder holding data.db).
        pb_data_dir: std::path::PathBuf,
        /// The environment variable holding the key PocketBase encrypted its settings with
        /// (what it was started with as --encryptionEnv).
        #[arg(long, value_name = "NAME")]
        encryption_env: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Write a zip of data.db, auxiliary.db and storage/ (safe while the server runs).
    Create {
        /// Archive name, [a-z0-9_-]+.zip (default hearth_backup_YYYYMMDDHHMMSS.zip).
        name: Option<String>,
    },
    /// List the archives: name, size, date.
    List,
    /// Replace the data with an archive (refused while a server uses the data dir).
    Restore { name: String },
}

#[derive(Debug, Subcommand)]
pub enum LogsCommand {
    /// Delete request log entries older than an age: 7d, 12h, 30m.
    Prune {
        #[arg(long, value_name = "AGE")]
        older_than: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum CollectionsCommand {
    /// Write every collection definition to FILE as a JSON array ("-" for stdout).
    Export { file: String },
    /// Create or update collections from FILE (an array, or {"collections": [...]}).
    Import {
        file: String,
        /// Also delete non-system collections that FILE does not list.
        #[arg(long)]
        delete_missing: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum SuperuserCommand {
    /// Create the superuser, or set its password if it exists.
    Upsert { email: String, password: String },
    /// Create a new superuser; fails if the email is taken.
    Create { email: String, password: String },
    /// Change an existing superuser's password (signs out its sessions).
    Update { email: String, password: String },
    /// Delete a superuser.
    Delete { email: String },
    /// Create a one-time password for a superuser (when `_superusers` allows OTP sign-in),
    /// printed here instead of mailed.
    Otp { email: String },
}

#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    #[command(subcommand)]
    pub command: MigrateCommand,
    /// The app's JS migrations (PocketBase's `pb_migrations`).
    #[arg(
        long,
        global = true,
        env = "HEARTH_MIGRATIONS_DIR",
        default_value = "./hearth_migrations"
    )]
    pub migrations_dir: std::path::PathBuf,
    /// The JS hooks folder (`__hooks` in migrations, for `require`).
    #[arg(
        long,
        global = true,
        env = "HEARTH_HOOKS_DIR",
        default_value = "./hearth_hooks"
    )]
    pub hooks_dir: std::path::PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum MigrateCommand {
    /// Apply every pending migration.
    Up,
    /// Revert the last N applied migrations: the app's JS ones while any is applied, else
    /// the system's of data.db.
    Down {
        #[arg(default_value_t = 1)]
        n: usize,
    },
    /// List migrations and whether each is applied.
    Status,
}

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Serve(args) => serve(Config::new(cli.dir, args)),
        Command::Superuser(cmd) => superuser(&cli.dir, cmd),
        Command::Migrate(args) => migrate(&cli.dir, args),
        Command::Check => check(&cli.dir),
        Command::Collections(cmd) => collections(&cli.dir, cmd),
        Command::Logs(cmd) => logs(&cli.dir, cmd),
        Command::Openapi { file } => openapi(&cli.dir, file.as_deref().unwrap_or("-")),
        Command::Backup(cmd) => backup(&cli.dir, cmd),
        Command::Import(cmd) => import(&cli.dir, cmd),
    }
}

fn openapi(dir: &DirArgs, file: &str) -> Result<()> {
    let db = open(dir)?;
    let registry = db.data.read(crate::schema::Registry::load)?;
    let meta = db.data.read(crate::mail::AppMeta::load)?;
    let doc = crate::openapi::document(&registry.snapshot(), &meta.app_name);
    let text = serde_json::to_string_pretty(&doc).map_err(Error::internal)?;
    if file == "-" {
        println!("{text}");
    } else {
        std::fs::write(file, text + "\n")
            .map_err(|e| Error::internal(format!("cannot write {file}: {e}")))?;
        eprintln!("Wrote the OpenAPI document to {file}.");
    }
    Ok(())
}

fn logs(dir: &DirArgs, cmd: LogsCommand) -> Result<()> {
    let db = open(dir)?;
    match cmd {
        LogsCommand::Prune { older_than } => {
            let age = crate::logs::parse_age(&older_than).ok_or_else(|| {
                Error::bad_request(format!(
                    "--older-than {older_than:?}: expected an age such as 7d, 12h or 30m"
                ))
            })?;
            let cutoff = crate::logs::cutoff(age);
            let n = crate::logs::prune(&db.aux, &cutoff)?;
            eprintln!("Deleted {n} log entries created before {cutoff}.");
        }
    }
    Ok(())
}

fn backup(dir: &DirArgs, cmd: BackupCommand) -> Result<()> {
    // Progress on stderr, rewritten in place; stdout keeps only the results.
    let shown = std::cell::Cell::new(false);
    let progress = |step: &str| {
        shown.set(true);
        eprint!("\r\x1b[K{step}");
    };
    let end_progress = || {
        if shown.get() {
            eprintln!();
        }
    };
    match cmd {
        BackupCommand::Create { name } => {
            let db = open(dir)?;
            let key = crate::backups::create(&db, name.as_deref(), &progress);
            end_progress();
            let key = key?;
            println!("Created backup {key}.");
        }
        BackupCommand::List => {
            let db = open(dir)?;
            for b in crate::backups::Place::of(&db)?.list()? {
                println!("{:<48} {:>12} {}", b.key, b.size, b.modified);
            }
        }
        BackupCommand::Restore { name } => {
            // Held until the restore is over, so no server starts on a half-swapped dir.
            let _lock = crate::db::lock_dir(&dir.dir).map_err(|_| {
                Error::internal(format!(
                    "{} is in use by a running hearth server: stop it first, or restore through the API or the admin UI",
                    dir.dir.display()
                ))
            })?;
            let db = open(dir)?;
            // Nothing to follow beyond what every start loads (which the restore checks).
            let done = crate::backups::restore(&db, &name, &progress, &|| Ok(()));
            end_progress();
            done?;
            db.checkpoint()?;
            println!("Restored {name}; the previous data is kept in backups/.before_restore_*.");
        }
    }
    Ok(())
}

fn import(dir: &DirArgs, cmd: ImportCommand) -> Result<()> {
    init_logger("warn");
    let ImportCommand::Pocketbase {
        pb_data_dir,
        encryption_env,
    } = cmd;
    let encryption_key = encryption_env
        .map(|name| crate::crypt::key_from_env(&name))
        .transpose()?;
    let opts = crate::import::pocketbase::Options { encryption_key };
    let started = std::time::Instant::now();
    eprintln!(
        "Importing PocketBase data from {} into {}...",
        pb_data_dir.display(),
        dir.dir.display()
    );
    let progress = |step: &str| eprintln!("  {step}");
    let summary = crate::import::pocketbase::into_dir(&pb_data_dir, &dir.dir, &opts, &progress)?;
    eprint!("{summary}");
    println!(
        "Imported {} collections, {} records and {} files into {} in {:.1}s; start it with `hearth serve --dir {}`.",
        summary.collections.len(),
        summary.records(),
        summary.files,
        dir.dir.display(),
        started.elapsed().as_secs_f64(),
        dir.dir.display()
    );
    Ok(())
}

/// One line for the terminal, including field details of a validation error.
pub fn describe(e: &Error) -> String {
    match e {
        Error::BadRequest { message, data } if !data.is_empty() => {
            let mut fields = Vec::new();
            for (key, tree) in data {
                tree.flatten(key, &mut fields);
            }
            // One line, even when a detail (an import failure) carries a JSON dump.
            let detail = fields
                .join("; ")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            format!("{message} ({detail})")
        }
        other => other.to_string(),
    }
}

fn init_logger(default: &str) {
    let env = env_logger::Env::default().default_filter_or(default);
    let _ = env_logger::Builder::from_env(env)
        .format_timestamp_millis()
        .try_init();
}

fn open(dir: &DirArgs) -> Result<Db> {
    init_logger("warn");
    Db::open(
        &dir.dir,
        &PoolOptions {
            readers: 1,
            // The operator's own commands: no time limit.
            query_timeout: None,
            ..PoolOptions::default()
        },
    )
}

fn serve(config: Config) -> Result<()> {
    init_logger(if config.dev {
        "debug"
    } else {
        "info,actix_web::middleware::logger=warn"
    });
    actix_web::rt::System::new().block_on(async move {
        let app = crate::App::build(config)?;
        app.run_until_stopped().await
    })
}

fn superuser(dir: &DirArgs, cmd: SuperuserCommand) -> Result<()> {
    let db = open(dir)?;
    match cmd {
        SuperuserCommand::Upsert { email, password } => {
            let saved = superusers::upsert(&db.data, &email, &password)?;
            let verb = if saved == Saved::Created {
                "created"
            } else {
                "updated"
            };
            println!("Successfully saved superuser \"{email}\" ({verb}).");
        }
        SuperuserCommand::Create { email, password } => {
            superusers::create(&db.data, &email, &password)?;
            println!("Successfully created new superuser \"{email}\".");
        }
        SuperuserCommand::Update { email, password } => {
            superusers::update_password(&db.data, &email, &password)?;
            println!("Successfully changed superuser \"{email}\" password.");
        }
        SuperuserCommand::Delete { email } => {
            superusers::delete(&db.data, &email)?;
            println!("Successfully deleted superuser \"{email}\".");
        }
        SuperuserCommand::Otp { email } => {
            let user = db
                .data
                .read(|c| Superuser::find_by_email(c, &email))?
                .ok_or_else(|| Error::NotFound(format!("superuser {email} does not exist")))?;
            let registry = db.data.read(crate::schema::Registry::load)?;
            let admins = registry
                .snapshot()
                .find(superusers::COLLECTION_ID)
                .ok_or_else(|| Error::internal("the _superusers collection is missing"))?;
            crate::auth::otp::ensure_enabled(&admins).map_err(|_| {
                Error::bad_request("OTP auth is not enabled for the _superusers collection")
            })?;
            let (id, code) = crate::auth::otp::issue_unsent(&db.data, &admins, &user.id)?;
            let valid = crate::auth::otp::duration(&admins);
            println!("Successfully created OTP for superuser \"{email}\":");
            println!("├─ Id:    {id}");
            println!("├─ Pass:  {code}");
            println!("└─ Valid: {valid}s");
        }
    }
    Ok(())
}

fn migrate(dir: &DirArgs, args: MigrateArgs) -> Result<()> {
    // Opening the data dir already applies pending system migrations.
    let db = open(dir)?;
    let sets = [
        (&db.data, migrate::Set::Data, "data"),
        (&db.aux, migrate::Set::Auxiliary, "auxiliary"),
    ];
    for (store, set, _) in sets {
        migrate::up(store, set)?;
    }
    let system: Vec<(&str, Vec<migrate::Status>)> = sets
        .iter()
        .map(|(store, set, label)| Ok((*label, migrate::status(store, *set)?)))
        .collect::<Result<_>>()?;
    let app = app_for_migrations(dir, &args, db)?;
    match args.command {
        MigrateCommand::Up => {
            for name in crate::hooks::migrations::up(&app)? {
                println!("Applied {name}");
            }
            println!("All migrations are applied.");
        }
        MigrateCommand::Down { n } => {
            let app_applied = crate::hooks::migrations::status(&*app)?
                .iter()
                .any(|m| m.applied.is_some());
            let reverted = if app_applied {
                crate::hooks::migrations::down(&app, n)?
            } else {
                migrate::down(&app.db.data, migrate::Set::Data, n)?
            };
            for name in reverted {
                println!("Reverted {name}");
            }
        }
        MigrateCommand::Status => {
            let app_status = crate::hooks::migrations::status(&*app)?
                .into_iter()
                .map(|m| (m.name, m.applied));
            let all = system
                .into_iter()
                .flat_map(|(label, list)| {
                    list.into_iter()
                        .map(move |m| (format!("{label}/{}", m.name), m.applied))
                })
                .chain(app_status.map(|(name, at)| (format!("app/{name}"), at)));
            for (name, applied) in all {
                let state = match applied {
                    Some(at) => format!("applied {}", format_micros(at)),
                    None => "pending".into(),
                };
                println!("{name:<40} {state}");
            }
        }
    }
    Ok(())
}

/// The server's state without serving, for the JS migrations' `$app`.
fn app_for_migrations(
    dir: &DirArgs,
    args: &MigrateArgs,
    db: Db,
) -> Result<std::sync::Arc<crate::state::AppState>> {
    let mut config = Config::for_dir(&dir.dir, "127.0.0.1:0");
    config.hooks.migrations = args.migrations_dir.clone();
    config.hooks.dir = args.hooks_dir.clone();
    config.hooks.watch = false;
    let (broker, _events) = crate::realtime::Broker::new(config.realtime.max_clients);
    let app = std::sync::Arc::new(crate::state::AppState::new(db, config, broker)?);
    let server: std::sync::Weak<crate::state::AppState> = std::sync::Arc::downgrade(&app);
    app.hooks.attach(server);
    Ok(app)
}

fn format_micros(micros: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
        .map(crate::datetime::format)
        .unwrap_or_else(|_| micros.to_string())
}

fn check(dir: &DirArgs) -> Result<()> {
    let db = open(dir)?;
    let mut findings = Vec::new();
    for store in [&db.data, &db.aux] {
        for f in store.check()? {
            findings.push(format!("{}: {f}", store.path().display()));
        }
    }
    if findings.is_empty() {
        println!("ok: data.db and auxiliary.db passed integrity and foreign key checks");
        return Ok(());
    }
    for f in &findings {
        println!("{f}");
    }
    Err(Error::internal(format!(
        "{} problem(s) found",
        findings.len()
    )))
}

fn collections(dir: &DirArgs, cmd: CollectionsCommand) -> Result<()> {
    let db = open(dir)?;
    let registry = db.data.read(crate::schema::Registry::load)?;
    match cmd {
        CollectionsCommand::Export { file } => {
            let all: Vec<serde_json::Value> = registry
                .snapshot()
                .all()
                .iter()
                .map(|c| c.to_json())
                .collect();
            let text = serde_json::to_string_pretty(&all).map_err(Error::internal)?;
            if file == "-" {
                println!("{text}");
            } else {
                std::fs::write(&file, text + "\n")
                    .map_err(|e| Error::internal(format!("cannot write {file}: {e}")))?;
                eprintln!("Exported {} collections to {file}.", all.len());
            }
        }
        CollectionsCommand::Import {
            file,
            delete_missing,
        } => {
            let text = if file == "-" {
                std::io::read_to_string(std::io::stdin())?
            } else {
                std::fs::read_to_string(&file)
                    .map_err(|e| Error::internal(format!("cannot read {file}: {e}")))?
            };
            let parsed: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| Error::internal(format!("{file} is not valid JSON: {e}")))?;
            let items = import_items(parsed, &file)?;
            let count = items.len();
            eprintln!("Importing {count} collections from {file}...");
            // Beside a running server: its uploads in progress stay where they are.
            let storage = crate::files::Storage::at(&db.dir().join("storage"));
            let collections = crate::collections::Collections {
                store: &db.data,
                registry: &registry,
                storage: &storage,
            };
            collections.import(items, delete_missing)?;
            println!("Imported {count} collections.");
        }
    }
    Ok(())
}

/// The collections an import file holds: a JSON array, the import API's body
/// (`{"collections": [...]}`) or a `GET /api/collections` answer (`{"items": [...], ...}`),
/// which holds one page only: its `totalItems` says when collections are missing.
fn import_items(parsed: serde_json::Value, file: &str) -> Result<Vec<serde_json::Value>> {
    use serde_json::Value;
    let mut map = match parsed {
        Value::Array(items) => return Ok(items),
        Value::Object(map) => map,
        _ => {
            return Err(Error::internal(format!(
                "{file} must hold a JSON array of collections"
            )));
        }
    };
    let total = map.get("totalItems").and_then(Value::as_u64);
    match (map.remove("collections"), map.remove("items")) {
        (Some(Value::Array(items)), _) => Ok(items),
        (None, Some(Value::Array(items))) => match total {
            Some(total) if total > items.len() as u64 => Err(Error::internal(format!(
                "{file} holds {} of {total} collections (one page of GET /api/collections); \
                 fetch them all with ?perPage={total} or use `hearth collections export`",
                items.len()
            ))),
            _ => Ok(items),
        },
        _ => Err(Error::internal(format!(
            "{file} has no \"collections\" or \"items\" array"
        ))),
    }
}
