// A small single-page app: client routes through the History API, data from the same
// origin's API through the official SDK. Each view sets the document title when it is
// ready, so a test can wait on it.
import PocketBase from "pocketbase";
import "./style.css";

const pb = new PocketBase(window.location.origin);
const view = document.getElementById("view");
window.pageLoads = (window.pageLoads || 0) + 1;

function show(title, html) {
  view.innerHTML = html;
  document.title = title;
}

function escape(text) {
  const span = document.createElement("span");
  span.textContent = text;
  return span.innerHTML;
}

async function posts() {
  const list = await pb.collection("posts").getList(1, 20, { sort: "title" });
  const items = list.items
    .map((p) => `<li><a href="/posts/${p.id}" data-link>${escape(p.title)}</a></li>`)
    .join("");
  show(`posts: ${list.totalItems}`, `<ul id="posts">${items}</ul>`);
}

async function post(id) {
  try {
    const p = await pb.collection("posts").getOne(id);
    show(`post: ${p.title}`, `<h1>${escape(p.title)}</h1>`);
  } catch (e) {
    show(`post: ${e.status}`, `<p>No such post.</p>`);
  }
}

async function render() {
  const path = window.location.pathname;
  const match = path.match(/^\/posts\/([a-z0-9]+)$/);
  if (path === "/") return posts();
  if (path === "/about") return show("about", "<p>About this app.</p>");
  if (match) return post(match[1]);
  return show("not found", "<p>Not found.</p>");
}

document.addEventListener("click", (event) => {
  const link = event.target.closest("a[data-link]");
  if (!link) return;
  event.preventDefault();
  window.history.pushState({}, "", link.getAttribute("href"));
  render();
});
window.addEventListener("popstate", render);
render();
