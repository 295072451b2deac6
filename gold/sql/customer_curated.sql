-- Trusted customers that have at least one trusted accelerometer reading.
CREATE TABLE IF NOT EXISTS gold.customer_curated (
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
