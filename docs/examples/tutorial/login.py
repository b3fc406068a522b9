from typing import Any

from werkzeug.security import check_password_hash, generate_password_hash

from trioweb import App, flash, redirect, render_template, request, session, url_for

app = App(__name__)  # templates are read from ./templates
app.config["SECRET_KEY"] = "change me: a long random string, kept out of the code"
USERS = {"ann": generate_password_hash("correct horse")}


@app.get("/")
async def index() -> str:
    return await render_template("index.html", user=session.get("user"))


@app.route("/login", methods=["GET", "POST"])
async def login() -> Any:
    if request.method == "POST":
        form = await request.form
        name, password = form.get("name", ""), form.get("password", "")
        if name in USERS and check_password_hash(USERS[name], password):
            session["user"] = name
            await flash(f"Hello, {name}!")
            return redirect(url_for("index"))
        await flash("Wrong name or password.")
    return await render_template("login.html")


@app.post("/logout")
async def logout() -> Any:
    session.pop("user", None)
    return redirect(url_for("index"))
