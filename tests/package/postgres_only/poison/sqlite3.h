#error "persist::postgres must not include sqlite3.h"
