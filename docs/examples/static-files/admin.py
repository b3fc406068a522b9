from trioweb import App, Blueprint, url_for

# A blueprint's static folder is relative to the blueprint's module (here,
# admin/static beside this file); its URL goes under the blueprint's prefix.
admin = Blueprint(
    "admin",
    __name__,
    url_prefix="/admin",
    static_folder="admin/static",
    static_url_path="/assets",
)


@admin.get("/")
async def dashboard() -> str:
    stylesheet = url_for(".static", filename="admin.css")
    return f'<link rel="stylesheet" href="{stylesheet}"><h1>Admin</h1>'


app = App(__name__)
app.register_blueprint(admin)
