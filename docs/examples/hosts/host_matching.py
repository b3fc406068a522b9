from trioweb import App, url_for

# Each rule names its host; the static files are on a host of their own.
app = App(__name__, host_matching=True, static_host="static.example.com")


@app.route("/", host="shop.example.com")
async def shop() -> str:
    # Another host's rule is built with its host: a link across sites.
    return f'Shop. Read <a href="{url_for("blog")}">the blog</a>.'


@app.route("/", host="blog.example.com")
async def blog() -> str:
    return f'Blog. Visit <a href="{url_for("shop")}">the shop</a>.'


@app.route("/", host="<user>.people.example.com")
async def profile(user: str) -> str:
    # A variable part of the host is an argument of the view, as one of the path is.
    return f"The page of {user}"
