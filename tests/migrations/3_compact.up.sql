-- persist:no-transaction
VACUUM;
