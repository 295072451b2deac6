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
LOCATION '${location}';
