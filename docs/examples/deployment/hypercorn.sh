pip install "hypercorn[trio]"         # "hypercorn[trio,h3]" for HTTP/3
hypercorn --worker-class trio --workers 4 --bind 0.0.0.0:8000 module:app
hypercorn --worker-class trio --workers 4 --bind 0.0.0.0:443 \
          --certfile cert.pem --keyfile key.pem module:app                  # TLS, HTTP/2 by ALPN
hypercorn --worker-class trio --bind 0.0.0.0:443 --quic-bind 0.0.0.0:443 \
          --certfile cert.pem --keyfile key.pem module:app                  # and HTTP/3
