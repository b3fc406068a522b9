trioweb --app shop routes                           # the module's App named app (or application, or its only one)
trioweb --app shop:app routes                       # module:name
trioweb --app ./shop.py routes                      # a file path; a package's module is imported as such
trioweb --app factory routes                        # create_app() (or make_app()) is called
trioweb --app 'factory:create_app("staging")' routes   # a factory with literal arguments
TRIOWEB_APP=shop trioweb routes                     # the variable instead of the option
