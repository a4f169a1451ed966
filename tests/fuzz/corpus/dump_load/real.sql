-- persist dump of s.db, 2026-11-29T11:25:04.962701Z, persist 0.1.0
CREATE TABLE persist_schema_history (version INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, state TEXT NOT NULL, applied_at TEXT NOT NULL, execution_ms INTEGER NOT NULL, applied_by TEXT NOT NULL, persist_version TEXT NOT NULL);
CREATE TABLE persist_schema_audit (id INTEGER PRIMARY KEY, version INTEGER NOT NULL, action TEXT NOT NULL, old_checksum TEXT, new_checksum TEXT, at TEXT NOT NULL, by TEXT NOT NULL);
CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL, tag TEXT);
INSERT INTO "persist_schema_history"("version","name","checksum","state","applied_at","execution_ms","applied_by","persist_version") VALUES(1,'notes','274617d3d659978ff8772e8cb5fb9736c56bdd9e0d2c5800147489e2ad21a1f8','applied','2026-11-29T11:25:04.936502Z',0,'root@vm pid 3274','0.1.0');
INSERT INTO "persist_schema_history"("version","name","checksum","state","applied_at","execution_ms","applied_by","persist_version") VALUES(2,'seed','410f07c9345ed45e68c80ab1f47f89a5fb675f7a44b0cf43a3a43e14dd9be19a','applied','2026-11-29T11:25:04.937319Z',0,'root@vm pid 3274','0.1.0');
INSERT INTO "notes"("id","body","tag") VALUES(1,'a',NULL);
INSERT INTO "notes"("id","body","tag") VALUES(2,'it''s',NULL);
INSERT INTO "notes"("id","body","tag") VALUES(3,X'00ff',NULL);
