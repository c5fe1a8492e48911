//! Reading records under the rules: lists (filter, sort, search, paging), single records,
//! and the `expand` and `fields` a response asks for.

use rusqlite::types::Value as Sql;

use rusqlite::{Connection, OptionalExtension};
use serde_json::{Map, Value};

use super::access::{
    Access, access, client_filter, manage_column, row_matches, row_select, superusers_only,
};
use super::output::Viewer;
use super::{Ctx, Record, check_client_expression, count, expand, fields, output, search};
use crate::error::{Error, Result};
use crate::schema::Collection;

/// What every record response may ask for: related records, and which keys to keep.
#[derive(Debug, Default)]
pub struct Shape {
    pub expand: String,
    pub fields: String,
}

/// Expands and projects records of `c` as the request's `expand` and `fields` ask.
pub fn shape(
    conn: &Connection,
    c: &Collection,
    ctx: &Ctx,
    items: &mut [Map<String, Value>],
    shape: &Shape,
) -> Result<()> {
    let tree = expand::Tree::parse(&shape.expand)?;
    if !tree.is_empty() {
        expand::apply(conn, c, ctx, items, &tree)?;
    }
    if let Some(projection) = fields::Projection::parse(&shape.fields) {
        for item in items.iter_mut() {
            projection.apply(item);
        }
    }
    Ok(())
}

/// The paging, ordering and filtering of a list request.
pub struct ListOptions {
    pub page: u64,
    pub per_page: u64,
    pub skip_total: bool,
    pub sort: String,
    pub filter: String,
    /// Words to find in the searchable fields (full-text, ranked by bm25); "" for none.
    pub search: String,
}

pub fn list(
    conn: &Connection,
    c: &Collection,
    ctx: &Ctx,
    opts: &ListOptions,
) -> Result<(Vec<Record>, Option<u64>)> {
    let mut params = Vec::new();
    let mut conditions = Vec::new();
    match access(c, &c.rules.list, ctx, &mut params) {
        Access::SuperusersOnly => return Err(superusers_only()),
        // A failed list rule filters silently, as in PocketBase.
        Access::Where(sql) => conditions.push(sql),
        Access::Granted => {}
    }
    check_client_expression(ctx, &[&opts.filter, &opts.sort])?;
    let order = crate::filter::sort::order_by(c, &opts.sort)?;
    if let Some(sql) = client_filter(c, &opts.filter, ctx, &mut params)? {
        conditions.push(sql);
    }
    let table = &c.name;
    let offset = (opts.page - 1)
        .saturating_mul(opts.per_page)
        .min(i64::MAX as u64);
    let mut from = format!("\"{table}\" t");
    let mut order = order;
    let mut search_total = None;
    if !opts.search.trim().is_empty() {
        let search = search::prepare(c, &opts.search)?;
        if conditions.is_empty() {
            if order.is_empty()
                && let Some(page) =
                    search.page(conn, c, ctx, offset, opts.per_page, opts.skip_total)?
            {
                return Ok(page);
            }
            if !opts.skip_total {
                search_total = Some(search.total(conn)?);
            }
        }
        params.push(Sql::Text(search.query.clone()));
        from = search.from(table, params.len());
        if order.is_empty() {
            order = search::Search::ORDER.to_owned();
        }
    }
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    };
    let total = match search_total {
        _ if opts.skip_total => None,
        Some(n) => Some(n),
        None => {
            let sql = format!("SELECT count(*) FROM {from}{filter}");
            Some(count::total(conn, &sql, &params)?)
        }
    };
    let manage = manage_column(c, ctx, &mut params);
    params.push(Sql::Integer(opts.per_page as i64));
    params.push(Sql::Integer(offset as i64));
    let n = params.len();
    let sql = format!(
        "SELECT t.*{manage} FROM {from}{filter}{order} LIMIT ?{} OFFSET ?{n}",
        n - 1
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let viewer = ctx.caller.viewer();
    let rows = stmt.query_map(rusqlite::params_from_iter(&params), |row| {
        output::record(c, row, viewer)
    })?;
    let items = rows.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok((items, total))
}

/// A record as `viewer` sees it, without rules: for answers whose access was decided
/// elsewhere (a sign-in returning its own record).
pub fn view_as(
    conn: &Connection,
    c: &Collection,
    id: &str,
    viewer: Viewer,
) -> Result<Map<String, Value>> {
    fetch(conn, c, id, viewer)?.ok_or_else(Error::not_found)
}

pub(super) fn fetch(
    conn: &Connection,
    c: &Collection,
    id: &str,
    viewer: Viewer,
) -> Result<Option<Map<String, Value>>> {
    let sql = format!("SELECT * FROM \"{}\" WHERE id = ?1", c.name);
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([id], |row| output::record(c, row, viewer))
        .optional()?)
}

/// A record as this request's caller sees it: a manager (per the collection's manageRule)
/// sees the email like its owner does.
pub(super) fn fetch_for(
    conn: &Connection,
    c: &Collection,
    id: &str,
    ctx: &Ctx,
) -> Result<Option<Map<String, Value>>> {
    let mut params = Vec::new();
    let manage = manage_column(c, ctx, &mut params);
    params.push(Sql::Text(id.to_owned()));
    let sql = format!(
        "SELECT t.*{manage} FROM \"{}\" t WHERE t.id = ?{}",
        c.name,
        params.len()
    );
    let viewer = ctx.caller.viewer();
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(rusqlite::params_from_iter(&params), |row| {
            output::record(c, row, viewer)
        })
        .optional()?)
}

/// A captured row (see `changes`) as `ctx`'s caller may see it through `rule` and an
/// optional client `filter`: None when either excludes it. The row is evaluated as it was
/// captured, so a record already deleted (or changed again) is judged as of its change.
pub fn view_row(
    conn: &Connection,
    c: &Collection,
    ctx: &Ctx,
    row: &[(String, Sql)],
    rule: &Option<String>,
    filter: &str,
) -> Result<Option<Record>> {
    let mut params = Vec::new();
    let mut conditions = Vec::new();
    match access(c, rule, ctx, &mut params) {
        Access::SuperusersOnly => return Ok(None),
        Access::Where(sql) => conditions.push(sql),
        Access::Granted => {}
    }
    match client_filter(c, filter, ctx, &mut params) {
        Ok(Some(sql)) => conditions.push(sql),
        Ok(None) => {}
        // An unusable subscription filter admits nothing, as in PocketBase.
        Err(_) => return Ok(None),
    }
    let manage = manage_column(c, ctx, &mut params);
    let select = row_select(c, row, &mut params);
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    };
    let sql = format!("SELECT t.*{manage} FROM (SELECT {select}) t{filter}");
    let viewer = ctx.caller.viewer();
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(rusqlite::params_from_iter(&params), |r| {
            output::record(c, r, viewer)
        })
        .optional()?)
}

/// Whether viewing a record of `c` as `ctx`'s caller is a short read of bounded cost: a
/// table's row by id (not a view collection's query), under a view rule (and, for auth
/// records, a manage rule) that compiles to no subquery.
pub fn view_is_short(c: &Collection, ctx: &Ctx) -> bool {
    if c.is_view() {
        return false;
    }
    let mut params = Vec::new();
    let rule = match access(c, &c.rules.view, ctx, &mut params) {
        Access::Where(sql) => sql,
        Access::Granted | Access::SuperusersOnly => String::new(),
    };
    let manage = manage_column(c, ctx, &mut params);
    // Conservative: an identifier spelling SELECT only sends the read off the worker.
    ![rule, manage]
        .iter()
        .any(|sql| sql.to_ascii_uppercase().contains("SELECT"))
}

pub fn view(conn: &Connection, c: &Collection, ctx: &Ctx, id: &str) -> Result<Map<String, Value>> {
    let mut params = Vec::new();
    match access(c, &c.rules.view, ctx, &mut params) {
        Access::SuperusersOnly => return Err(superusers_only()),
        Access::Where(cond) if !row_matches(conn, c, id, &cond, params)? => {
            return Err(Error::not_found());
        }
        _ => {}
    }
    fetch_for(conn, c, id, ctx)?.ok_or_else(Error::not_found)
}
