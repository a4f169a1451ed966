#error "persist::postgres must not include SQLiteCpp"
