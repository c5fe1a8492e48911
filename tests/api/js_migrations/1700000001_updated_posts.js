/// <reference path="../pb_data/types.d.ts" />
migrate((app) => {
  const collection = app.findCollectionByNameOrId("pbc_1125843985")
  unmarshal({ "updateRule": "" }, collection)
  collection.fields.addAt(2, new Field({ "hidden": false, "id": "number1", "max": null, "min": 0, "name": "views", "onlyInt": true, "presentable": false, "required": false, "system": false, "type": "number" }))
  collection.fields.add(new TextField({ name: "slug" }))
  collection.addIndex("idx_posts_title", true, "title", "")
  return app.save(collection)
}, (app) => {
  const collection = app.findCollectionByNameOrId("pbc_1125843985")
  unmarshal({ "updateRule": null }, collection)
  collection.fields.removeById("number1")
  collection.fields.removeByName("slug")
  collection.removeIndex("idx_posts_title")
  return app.save(collection)
})
