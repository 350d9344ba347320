-- Devices log in to Mosquitto with their id and device token. The broker's
-- password file needs the token's own PBKDF2-SHA512 hash (mosquitto_passwd
-- `$7$` format), which can only be computed while the raw token is known (at
-- creation and rotation), so it is kept here and the file is generated from
-- this column. NULL: the device has no broker login (created before this
-- migration or auto-provisioned): rotating its token gives it one.
ALTER TABLE devices ADD COLUMN mqtt_password_hash text;
