trioweb --app shop run                              # http://127.0.0.1:8000, no reloader
trioweb --app shop run --debug                      # DEBUG on, and the reloader with it
trioweb --app shop run --reload --host 0.0.0.0 --port 5000
