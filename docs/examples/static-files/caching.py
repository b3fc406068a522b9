from datetime import timedelta

from trioweb import App


class CachingApp(App):
    def get_send_file_max_age(self, filename: str | None) -> int | None:
        # Files whose name carries a hash of their content never change
        # under that name: browsers may keep them for a year.
        if filename is not None and ".v" in filename:
            return int(timedelta(days=365).total_seconds())
        return super().get_send_file_max_age(filename)


app = CachingApp(__name__)
# Everything else: cached for ten minutes before revalidating.
app.config["SEND_FILE_MAX_AGE_DEFAULT"] = timedelta(minutes=10)
