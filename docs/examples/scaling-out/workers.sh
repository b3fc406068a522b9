trioweb serve hits:app --workers 4 --host 0.0.0.0
trioweb --app hits serve --workers 2 --certfile cert.pem --keyfile key.pem
python hits.py
