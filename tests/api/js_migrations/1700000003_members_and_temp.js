/// <reference path="../pb_data/types.d.ts" />
migrate((app) => {
  const members = new Collection({
    type: "auth",
    id: "pbc_members01",
    name: "members",
    listRule: "id = @request.auth.id",
    fields: [{ name: "nickname", type: "text", id: "text_nick01" }],
  });
  app.save(members);

  const temp = new Collection({ id: "pbc_temp00001", name: "temp", fields: [new BoolField({ name: "flag", id: "bool_flag01" })] });
  app.save(temp);
  const again = app.findCollectionByNameOrId("temp");
  app.delete(again);

  const posts = app.findCollectionByNameOrId("posts");
  posts.fields.getByName("title").max = 200;
  posts.listRule = "views > 0";
  app.save(posts);
}, (app) => {
  app.delete(app.findCollectionByNameOrId("members"));
  const posts = app.findCollectionByNameOrId("posts");
  posts.fields.getByName("title").max = 0;
  posts.listRule = "";
  app.save(posts);
});
