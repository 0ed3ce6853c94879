-- Argo CD health of a bizdomain object (BusinessDomain, EnvironmentBinding, MemberCluster).
-- Ready True -> Healthy; Reconciling True, no status yet, or observedGeneration behind
-- metadata.generation -> Progressing; Degraded True or Ready False -> Degraded.
local hs = {}
if obj.status == nil or obj.status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the bizdomain operator"
  return hs
end
local generation = obj.metadata.generation
local observed = obj.status.observedGeneration
if generation ~= nil and observed ~= nil and observed < generation then
  hs.status = "Progressing"
  hs.message = "The operator has not seen the latest change yet"
  return hs
end
local conditions = {}
for _, c in ipairs(obj.status.conditions) do
  conditions[c.type] = c
end
local ready = conditions["Ready"]
local reconciling = conditions["Reconciling"]
local degraded = conditions["Degraded"]
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message
elseif reconciling ~= nil and reconciling.status == "True" then
  hs.status = "Progressing"
  hs.message = reconciling.message
elseif (degraded ~= nil and degraded.status == "True") or (ready ~= nil and ready.status == "False") then
  hs.status = "Degraded"
  if degraded ~= nil and degraded.status == "True" then
    hs.message = degraded.message
  else
    hs.message = ready.message
  end
else
  hs.status = "Progressing"
  hs.message = "Waiting for the bizdomain operator"
end
return hs
