python -m trioweb serve module:app --host 0.0.0.0 --port 8000
python -m trioweb serve module:app --port 8443 --certfile cert.pem --keyfile key.pem   # https and wss
