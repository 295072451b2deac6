-- One row per customer (email): the latest record, kept only while it grants research consent.
-- Junk values are NULL: birthDay is a real date or NULL, phone is 7-15 digits or NULL.
CREATE TABLE IF NOT EXISTS silver.customer_trusted (
  customer_key STRING,
  customerName STRING,
  email STRING,
  phone STRING,
  birthDay DATE,
  serialNumber STRING,
  registrationDate BIGINT,
  lastUpdateDate BIGINT,
  shareWithResearchAsOfDate BIGINT,
  shareWithPublicAsOfDate BIGINT,
  shareWithFriendsAsOfDate BIGINT
)
USING delta
LOCATION '${location}'
-- Per-file statistics (min/max values in the Delta log) only of columns that name nobody:
-- an erased person's email, name or pseudonym must not survive in the log.
TBLPROPERTIES ('delta.dataSkippingStatsColumns' = 'serialNumber,registrationDate,lastUpdateDate,shareWithResearchAsOfDate,shareWithPublicAsOfDate,shareWithFriendsAsOfDate');
