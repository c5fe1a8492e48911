migrate((app) => {
  const posts = app.findCollectionByNameOrId("posts");
  for (const t of ["first", "second"]) { const r = new Record(posts); r.set("title", t); r.set("views", 1); app.save(r); }
  app.db().newQuery("UPDATE posts SET views = views + {:n} WHERE title = {:t}").bind({n: 10, t: "second"}).execute();
  const row = new DynamicModel({ total: 0 });
  app.db().newQuery("SELECT sum(views) AS total FROM posts").one(row);
  const r = new Record(posts); r.set("title", "sum " + row.total); app.save(r);
}, (app) => {
  app.db().newQuery("DELETE FROM posts").execute();
})
