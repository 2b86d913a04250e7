// The BGP wire codec: pure encode/decode, no sockets and no clocks. Sessions import from here.
export * from './messages.ts';
export * from './errors.ts';
export { BgpParser, decodeMessage, defaultDecodeOptions, type DecodeOptions } from './parser.ts';
export {
  encodeEndOfRib,
  encodeKeepalive,
  encodeNotification,
  encodeOpen,
  encodeRouteRefresh,
  encodeUpdate,
  encodeUpdates,
  type EncodeOptions,
  type NotificationInput,
  type OpenInput,
  type RouteRefreshInput,
  type UpdateBatch,
  type UpdateInput,
} from './serializer.ts';
export {
  capabilityCode,
  fourOctetAsCapability,
  multiprotocolCapability,
  negotiateCapabilities,
  routeRefreshCapability,
  type NegotiatedCapabilities,
} from './capabilities.ts';
export { attributeName, effectiveAsPath, splitCommunities } from './attributes.ts';
export { afiOf, afiSafiOf, familyOf } from './nlri.ts';
export { announcedPrefixes, endOfRibFamily, withdrawnPrefixes } from './routes.ts';
export { checkOpen, type OpenExpectations } from './open-check.ts';
