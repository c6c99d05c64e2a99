//! /openapi/v2 and /openapi/v3 documents built from k8s-openapi's schemas and the catalogue.
