// Package demo holds the small programs behind the images the seed session
// uses (kubeseed/echo and kubeseed/nginx-proxy) and kubeseed/incluster, a
// client-go program that calls the API from inside a pod as operators do
// (rest.InClusterConfig). No registry is reachable where kubeseed runs
// offline, so the project builds these images from source and `kubeseed up`
// imports them, instead of pulling gihyodocker/* images.
package demo
