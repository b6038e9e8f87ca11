// Runtime globals this code touches, typed just enough for the places that use them.
interface ImportMeta {
  main?: boolean
}
